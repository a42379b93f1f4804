//! The handlers behind the routes of [`Api::router`].

use super::*;

pub(super) async fn list_agents(State(api): State<Api>, headers: HeaderMap) -> ApiResult {
    api.supervisor(&headers)?;
    let agents = api.agents().await?;
    let list: Vec<Value> = agents.iter().map(agent_json).collect();
    Ok(ok(json!({ "agents": list })))
}

pub(super) async fn get_agent(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    api.as_agent(&headers, &id)?;
    api.agent_answer(&id).await
}

pub(super) async fn agent_lead(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    api.as_agent(&headers, &id)?;
    let body = match api.ask(Request::Screen(AgentId::from(id))).await? {
        Reply::Screen(lead) => lead.unwrap_or(Value::Null),
        other => return Err(unexpected(&other)),
    };
    Ok(ok(json!({ "lead": body })))
}

/// `POST` an agent action that takes no fields (login, logout, ready, hang up, dial, skip): the agent
/// themselves or the supervisor; the answer is the agent's view.
pub(super) fn agent_action(request: fn(AgentId) -> Request) -> MethodRouter<Api> {
    post(
        move |State(api): State<Api>,
              headers: HeaderMap,
              Path(id): Path<String>,
              body: Result<Bytes, BytesRejection>| async move {
            api.as_agent(&headers, &id)?;
            object(body, &[])?;
            api.agent_request(&id, request(AgentId::from(id.as_str())))
                .await
        },
    )
}

/// Longest SDP offer accepted, in characters (a browser's audio-only offer is 2–6 KB).
const SDP_MAX: usize = 12_000;

/// The agent's own session or token only: the phone is the agent's own page's, not something a
/// supervisor or another agent may connect or hang up.
fn own_phone(api: &Api, headers: &HeaderMap, id: &str) -> Result<(), ApiError> {
    match api.authorize(headers)? {
        Principal::Agent(a) if a == id => Ok(()),
        Principal::Agent(a) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("agent {a} cannot use agent {id}'s phone"),
        )),
        Principal::Supervisor => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("agent {id}'s phone is their own page's: only agent {id} may connect it"),
        )),
    }
}

/// The gateway, if `id`'s phone is the browser; else 409 saying so.
fn page_phone(api: &Api, id: &str) -> Result<crate::webrtc::Gateway, ApiError> {
    api.inner
        .webrtc
        .get()
        .filter(|g| g.serves(id))
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "not_browser_phone",
                format!(
                    "agent {id}'s phone is not the browser (phone = \"browser\" in its \
                     [[agents]] entry makes the desktop page the phone)"
                ),
            )
        })
}

/// `GET /v1/agents/{id}/phone`: whether the agent's phone is the browser and whether the page's
/// phone is connected.
pub(super) async fn agent_phone(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    api.as_agent(&headers, &id)?;
    let gateway = api.inner.webrtc.get().filter(|g| g.serves(&id));
    Ok(ok(json!({ "phone": {
        "browser": gateway.is_some(),
        "connected": gateway.is_some_and(|g| g.connected(&id)),
    }})))
}

/// `POST /v1/agents/{id}/phone` `{"sdp": "<the page's offer>"}`: the daemon's answer
/// `{"type": "answer", "sdp": "..."}` (ICE-lite, DTLS-SRTP, PCMU/PCMA).
pub(super) async fn phone_offer(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    own_phone(&api, &headers, &id)?;
    let map = object(body, &["sdp", "type"])?;
    if let Some(t) = string(&map, "type", 16)?
        && t != "offer"
    {
        return Err(ApiError::bad_field(
            "type",
            format!("{t:?}: expected \"offer\""),
        ));
    }
    let sdp = required(&map, "sdp", SDP_MAX)?;
    let gateway = page_phone(&api, &id)?;
    match gateway.offer(&id, sdp).await {
        Ok(answer) => Ok(ok(json!({ "type": "answer", "sdp": answer }))),
        Err(crate::webrtc::GatewayError::Offer(e)) => Err(ApiError::bad_field("sdp", e)),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        )),
    }
}

/// `DELETE /v1/agents/{id}/phone`: the page hangs up its phone (a logged-in agent is
/// `connecting` until the page connects again).
pub(super) async fn phone_hangup(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    own_phone(&api, &headers, &id)?;
    page_phone(&api, &id)?.hangup(&id);
    Ok(ok(
        json!({ "phone": { "browser": true, "connected": false } }),
    ))
}

/// `POST` a campaign control (start, pause, stop): the supervisor only; the answer is the
/// campaign's status.
pub(super) fn campaign_action(control: CampaignControl) -> MethodRouter<Api> {
    post(
        move |State(api): State<Api>,
              headers: HeaderMap,
              Path(name): Path<String>,
              body: Result<Bytes, BytesRejection>| async move {
            let by = api.supervisor(&headers)?;
            object(body, &[])?;
            api.campaign_request(name, control, &by).await
        },
    )
}

/// `POST` a logout: the agent themselves, or the supervisor forcing the agent off (recorded in
/// the audit trail).
pub(super) async fn agent_logout(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let by = api.as_agent(&headers, &id)?;
    object(body, &[])?;
    let request = match by {
        Principal::Agent(_) => Request::Logout(AgentId::from(id.as_str())),
        Principal::Supervisor => Request::ForceLogout {
            agent: AgentId::from(id.as_str()),
            by: by.name(),
        },
    };
    api.agent_request(&id, request).await
}

pub(super) async fn agent_pause(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    api.as_agent(&headers, &id)?;
    let map = object(body, &["reason"])?;
    let reason = required(&map, "reason", REASON_MAX)?;
    let desktop = api.inner.desktop.load();
    if desktop.pause_reason(&reason).is_none() {
        let codes: Vec<&str> = desktop
            .pause_reasons
            .iter()
            .map(|r| r.code.as_str())
            .collect();
        return Err(ApiError::bad_field(
            "reason",
            format!(
                "{reason:?} is not a pause reason; expected one of {codes:?} ([desktop] pause_reasons)"
            ),
        ));
    }
    let request = Request::Pause {
        agent: AgentId::from(id.as_str()),
        reason,
    };
    api.agent_request(&id, request).await
}

pub(super) async fn agent_disposition(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    api.as_agent(&headers, &id)?;
    let map = object(body, &["code", "notes", "callback_at", "callback_in"])?;
    let code = required(&map, "code", 64)?;
    let notes = string(&map, "notes", NOTES_MAX)?;
    let now = jiff::Timestamp::now();
    let callback_after = callback(&map, now)?;
    if let Some(after) = callback_after {
        // Inside the campaign's calling hours in the lead's local time, or refused here.
        let field = if map.contains_key("callback_at") {
            "callback_at"
        } else {
            "callback_in"
        };
        let at = jiff::SignedDuration::try_from(after)
            .ok()
            .and_then(|d| now.checked_add(d).ok())
            .ok_or_else(|| ApiError::bad_field(field, "too far away"))?;
        let check = Request::CheckCallback {
            agent: AgentId::from(id.as_str()),
            at,
        };
        match api.ask(check).await {
            Ok(_) => {}
            Err(e) if e.code == "bad_field" => {
                return Err(ApiError {
                    message: e
                        .message
                        .replacen("\"callback_at\"", &format!("{field:?}"), 1),
                    ..e
                });
            }
            Err(e) => return Err(e),
        }
    }
    let request = Request::Disposition {
        agent: AgentId::from(id.as_str()),
        code,
        notes,
        callback_after,
    };
    api.agent_request(&id, request).await
}

/// `POST` an agent-assisted survey answer: `{"question": "q1", "answer": "yes"}` from the
/// campaign's `[script]`, on the call the agent is on or wraps up.
pub(super) async fn agent_answer(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    api.as_agent(&headers, &id)?;
    let map = object(body, &["question", "answer"])?;
    let question = required(&map, "question", 64)?;
    let answer = required(&map, "answer", 64)?;
    let request = Request::Answer {
        agent: AgentId::from(id.as_str()),
        question,
        answer,
    };
    api.agent_request(&id, request).await
}

pub(super) async fn list_campaigns(State(api): State<Api>, headers: HeaderMap) -> ApiResult {
    api.supervisor(&headers)?;
    let campaigns = api.campaigns().await?;
    let list: Vec<Value> = campaigns.iter().map(campaign_json).collect();
    Ok(ok(json!({ "campaigns": list })))
}

pub(super) async fn get_campaign(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult {
    api.supervisor(&headers)?;
    let campaigns = api.campaigns().await?;
    let c = campaigns
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| unknown_campaign(&name))?;
    Ok(ok(json!({ "campaign": campaign_json(c) })))
}
