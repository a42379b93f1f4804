//! The campaign the store benches fill: `bench`, a cold US campaign with one list, `main`.

use dialer::store::{CampaignIds, CampaignRecord, ListRecord, Store};

/// Create campaign `bench` and its list `main`; returns their ids.
pub async fn bench_campaign(store: &Store) -> Result<CampaignIds, dialer::store::StoreError> {
    store
        .upsert_campaign(
            &CampaignRecord {
                name: "bench",
                kind: "cold",
                regime: "us",
                source: None,
                recording_keep_ms: None,
                lists: vec![ListRecord {
                    name: "main",
                    kind: "cold",
                    priority: 0,
                    default_region: "US",
                }],
            },
            0,
        )
        .await
}
