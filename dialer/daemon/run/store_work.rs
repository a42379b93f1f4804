//! Store work the loop hands to tasks (claims, rechecks, a reload's campaign rows, list
//! imports) and the answers it gets back as events: the loop itself never awaits the store.

use super::*;

/// A campaign's retry rules for the attempts a crash left open.
pub(super) fn interrupted_retry(c: &Campaign) -> crate::store::InterruptedRetry {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let d = &c.retry.delay;
    crate::store::InterruptedRetry {
        max_attempts: i32::try_from(c.retry.max_attempts).unwrap_or(i32::MAX),
        interrupted_ms: ms(d.interrupted),
        abandoned_ms: ms(d.abandoned),
        machine_ms: ms(d.machine),
    }
}

impl Shell {
    /// Start a reload: the store work (campaign rows, abandon-window counts) runs in a task and
    /// comes back as [`Event::Reloaded`]; one reload at a time, in order.
    pub(super) fn reload(&mut self, ask: Reload) {
        if self.reloading {
            self.reloads.push_back(ask);
            return;
        }
        let Reload {
            campaigns,
            by,
            done,
        } = ask;
        self.reloading = true;
        let store = self.store.clone();
        let clock = self.clock;
        let events = self.events.clone();
        tokio::spawn(async move {
            let mut results = Vec::with_capacity(campaigns.len());
            for c in campaigns {
                let r = register(&store, &c, &clock).await;
                results.push((c, r));
            }
            let _ = events.send(Event::Reloaded { results, by, done });
        });
    }

    /// Apply a reload whose store work is done (nothing here waits), then start the next one.
    pub(super) fn reloaded(
        &mut self,
        results: Vec<(Campaign, Registered)>,
        by: String,
        done: oneshot::Sender<()>,
    ) {
        let names: std::collections::BTreeSet<String> =
            results.iter().map(|(c, _)| c.name.clone()).collect();
        let before: std::collections::BTreeSet<String> =
            self.board.campaign_names().into_iter().collect();
        let (mut added, mut failed, mut removed) = (Vec::new(), Vec::new(), Vec::new());
        for (c, r) in results {
            match r {
                Ok((ids, history)) => {
                    if !before.contains(&c.name) {
                        added.push(c.name.clone());
                    }
                    let c = Arc::new(c);
                    // Claims under way keep the settings they started with.
                    self.schedulers.insert(
                        c.name.clone(),
                        Scheduler::new(
                            c.clone(),
                            &ids,
                            self.options.owner.clone(),
                            self.options.lease,
                        ),
                    );
                    self.board
                        .upsert_campaign(c.clone(), CampaignId::new(ids.id), history);
                    if self.options.import_lists {
                        self.load_lists(c);
                    }
                }
                Err(err) => {
                    tracing::error!(campaign = %c.name, %err, "reload: campaign kept as it was");
                    failed.push(c.name.clone());
                }
            }
        }
        for gone in self.board.campaign_names() {
            if !names.contains(&gone) {
                tracing::info!(campaign = %gone, "reload: campaign removed, no new dials");
                removed.push(gone.clone());
                self.board.remove_campaign(&gone);
                self.schedulers.remove(&gone);
                self.lists.remove(&gone);
            }
        }
        // One line of what changed: the campaigns now, those added and removed, and those the
        // store could not register (each kept as it was, a new one left out).
        let names: Vec<String> = names.into_iter().collect();
        let mut message = format!(
            "configuration reload by {by} applied; campaigns: {}",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        );
        for (what, list) in [
            ("added", &added),
            ("removed", &removed),
            ("not applied (store error)", &failed),
        ] {
            if !list.is_empty() {
                message.push_str(&format!("; {what}: {}", list.join(", ")));
            }
        }
        let data = serde_json::json!({
            "by": by,
            "campaigns": names,
            "added": added,
            "removed": removed,
            "failed": failed,
        });
        self.audit("reload", None, message, data);
        let _ = done.send(());
        self.reloading = false;
        if let Some(ask) = self.reloads.pop_front() {
            self.reload(ask);
        }
    }

    /// Import a campaign's list files in a task (one at a time per campaign; a reload during
    /// an import has it run again when it ends).
    pub(super) fn load_lists(&mut self, c: Arc<Campaign>) {
        let Some(marks) = self.lists.begin(&c) else {
            return;
        };
        let store = self.store.clone();
        let events = self.events.clone();
        let now = self.clock.timestamp(Instant::now());
        tokio::spawn(async move {
            let loaded = lists::load(&store, &c, &marks, now).await;
            let _ = events.send(Event::ListsLoaded(Box::new(loaded)));
        });
    }

    /// Judge a campaign's leads in a task (its claim found none), at most every minute.
    pub(super) fn check_leads(&mut self, campaign: &str) {
        let Some(c) = self.board.campaign(campaign) else {
            return;
        };
        if !self.lists.begin_check(campaign, Instant::now()) {
            return;
        }
        let store = self.store.clone();
        let events = self.events.clone();
        let now = self.clock.timestamp(Instant::now());
        tokio::spawn(async move {
            let check = lists::check(&store, &c, now).await;
            let _ = events.send(Event::LeadsChecked {
                campaign: c.name.clone(),
                check,
            });
        });
    }

    pub(super) fn claim(&mut self, campaign: String, n: usize) {
        let store = self.store.clone();
        let events = self.events.clone();
        let now = Instant::now();
        let at = self.clock.timestamp(now);
        // Dialing pauses while the store cannot write (nothing is dialed that could not be
        // recorded); a claim every few seconds goes through as a probe.
        if self.store_health.unwritable().is_some() {
            if self
                .last_probe
                .is_some_and(|t| now.saturating_duration_since(t) < PAUSED_PROBE)
            {
                let _ = events.send(Event::ClaimDone {
                    campaign,
                    empty: false,
                });
                return;
            }
            self.last_probe = Some(now);
        }
        let health = self.store_health.clone();
        let Some(mut scheduler) = self.schedulers.get(&campaign).cloned() else {
            let _ = events.send(Event::ClaimDone {
                campaign,
                empty: false,
            });
            return;
        };
        tokio::spawn(async move {
            let claimed = scheduler.claim(&store, at, n).await;
            // A claim writes (leases): it tells whether the store can write.
            match &claimed {
                Ok(_) => health.claim_succeeded(),
                Err(crate::leads::LeadsError::Store(err)) if !err.is_permanent() => {
                    health.claim_failed(Instant::now(), err)
                }
                Err(_) => {}
            }
            match claimed {
                Ok(rows) if !rows.is_empty() => {
                    let leads = rows
                        .into_iter()
                        .map(|r| Lead {
                            id: r.lead.id,
                            phone: r.lead.phone,
                            timezone: r.lead.timezone,
                            attributes: r.lead.attributes,
                            attempts: r.lead.attempts,
                        })
                        .collect();
                    let _ = events.send(Event::Leads { campaign, leads });
                }
                Ok(_) => {
                    let _ = events.send(Event::ClaimDone {
                        campaign,
                        empty: true,
                    });
                }
                Err(err) => {
                    tracing::error!(%err, %campaign, "claiming leads failed");
                    let _ = events.send(Event::ClaimDone {
                        campaign,
                        empty: false,
                    });
                }
            }
        });
    }

    /// Check a previewed lead again and renew its lease (a store error keeps it: the next check
    /// tries again).
    pub(super) fn recheck(&self, campaign: String, lead_id: i64) {
        let store = self.store.clone();
        let events = self.events.clone();
        let at = self.clock.timestamp(Instant::now());
        let Some(mut scheduler) = self.schedulers.get(&campaign).cloned() else {
            let _ = events.send(Event::Rechecked {
                lead_id,
                refusal: Some(format!("campaign {campaign} is gone")),
            });
            return;
        };
        tokio::spawn(async move {
            let refusal = match scheduler.recheck(&store, at, lead_id).await {
                Ok(r) => r,
                Err(err) => {
                    tracing::warn!(%err, lead_id, "cannot check a previewed lead again");
                    None
                }
            };
            let _ = events.send(Event::Rechecked { lead_id, refusal });
        });
    }
}
