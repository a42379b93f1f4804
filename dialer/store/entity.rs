//! sea-orm entities, one module per table (see `migrations/` for the schema).

pub mod campaign {
    //! One campaign by its unique name; its file stays the source of truth.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "campaigns")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub kind: String,
        pub regime: String,
        pub source: Option<String>,
        pub created_at_ms: i64,
        pub updated_at_ms: i64,
        /// `recording.keep` of the campaign's file; `None`: `media.recordings_keep`.
        pub recording_keep_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod list {
    //! A lead list of a campaign (kind and priority order the scheduler).
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "lists")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub campaign_id: i64,
        pub name: String,
        pub kind: String,
        pub priority: i32,
        pub default_region: String,
        pub created_at_ms: i64,
        pub updated_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod lead {
    //! A person to call: E.164 phone, zone, attributes (JSON text), status, history, lease.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "leads")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub campaign_id: i64,
        pub list_id: i64,
        pub phone: String,
        pub timezone: Option<String>,
        pub attributes: String,
        pub status: String,
        pub priority: i32,
        pub attempts: i32,
        pub last_attempt_at_ms: Option<i64>,
        pub next_attempt_at_ms: Option<i64>,
        pub last_outcome: Option<String>,
        pub callback_at_ms: Option<i64>,
        pub last_conversation_at_ms: Option<i64>,
        pub last_abandoned_at_ms: Option<i64>,
        pub last_machine_at_ms: Option<i64>,
        pub recent_attempts: String,
        pub lease_owner: Option<String>,
        pub lease_until_ms: Option<i64>,
        pub created_at_ms: i64,
        pub updated_at_ms: i64,
        /// Candidate regions and zones (`US-ID|America/Boise America/Los_Angeles`); `None`: stored
        /// before zone keys, filled in at the next sync.
        pub zone_key: Option<String>,
        /// How the zones were found: `column`, `postal_code`, `number`, `campaign_default`.
        pub zone_source: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod call_attempt {
    //! One dial of a lead, with every timestamp of the call.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "call_attempts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub lead_id: i64,
        pub campaign_id: i64,
        pub attempt_no: i32,
        pub trunk: Option<String>,
        pub call_id: Option<String>,
        pub phone: Option<String>,
        pub dial_at_ms: i64,
        pub ring_at_ms: Option<i64>,
        pub answer_at_ms: Option<i64>,
        pub amd_at_ms: Option<i64>,
        pub connect_at_ms: Option<i64>,
        pub end_at_ms: Option<i64>,
        pub sip_status: Option<i32>,
        pub outcome: Option<String>,
        pub amd_result: Option<String>,
        pub amd_cause: Option<String>,
        pub amd_ms: Option<i32>,
        pub agent_id: Option<String>,
        pub live: bool,
        pub abandoned: bool,
        pub recording_path: Option<String>,
        /// When the message to the customer started (voicemail drop, safe harbor, agentless).
        pub message_at_ms: Option<i64>,
        /// The node (`dialer.toml`'s `node_id`) that dialed it; `None` on rows from before nodes.
        pub node: Option<String>,
        /// The lead's zone key when it was dialed (candidate regions and zones).
        pub zone_key: Option<String>,
        /// The version of the shipped state rules that allowed the dial.
        pub rules_version: Option<String>,
        /// What the rules saw when the dial was allowed (JSON, [`crate::compliance::evidence`]);
        /// `None` on attempts from before evidence was stored.
        pub evidence: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod disposition {
    //! An outcome recorded on a lead (system or agent disposition).
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "dispositions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub attempt_id: Option<i64>,
        pub lead_id: i64,
        pub campaign_id: i64,
        pub code: String,
        pub agent_id: Option<String>,
        pub notes: Option<String>,
        pub callback_at_ms: Option<i64>,
        pub created_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod dnc_number {
    //! A do-not-call number; `campaign_id` 0 is the global list.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "dnc_numbers")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub phone: String,
        pub campaign_id: i64,
        pub source: Option<String>,
        pub reason: Option<String>,
        pub added_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod dnc_registry {
    //! One registry download loaded into the global DNC list, with its data's date.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "dnc_registries")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// `us-national`, `uk-tps`, `internal`.
        pub registry: String,
        pub file: String,
        pub file_date_ms: i64,
        pub loaded_at_ms: i64,
        /// Numbers in the file, and of them new to the global list.
        pub numbers: i64,
        pub added: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod agent {
    //! An agent as configured in `dialer.toml`.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "agents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub sip_uri: Option<String>,
        pub groups: String,
        pub created_at_ms: i64,
        pub updated_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod agent_state_interval {
    //! An interval an agent spent in one state (ready, talk, wrap, paused, …).
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "agent_state_intervals")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub agent_id: String,
        pub campaign_id: Option<i64>,
        pub state: String,
        pub started_at_ms: i64,
        pub ended_at_ms: Option<i64>,
        pub attempt_id: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod survey_answer {
    //! One survey question's answer on an attempt.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "survey_answers")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub attempt_id: i64,
        pub lead_id: i64,
        pub campaign_id: i64,
        pub question: String,
        pub answer: String,
        pub digits: Option<String>,
        pub answered_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod opt_out {
    //! The evidence of one automated opt-out: the key pressed during (or right after) a
    //! prerecorded message of an attempt, and the DNC list(s) the number went on.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "opt_outs")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub attempt_id: i64,
        pub lead_id: i64,
        pub campaign_id: i64,
        pub phone: String,
        pub digits: String,
        /// `safe_harbor`, `voicemail`, `message` or `survey`.
        pub message: String,
        /// `campaign` or `global`.
        pub scope: String,
        pub at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit_event {
    //! An operator's action (audit trail): who started, paused or stopped a campaign, reloaded
    //! the configuration, logged an agent out.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at_ms: i64,
        pub campaign_id: Option<i64>,
        pub lead_id: Option<i64>,
        pub attempt_id: Option<i64>,
        pub kind: String,
        pub message: String,
        pub data: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
