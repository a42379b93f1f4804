//! Campaign files: one campaign per TOML file, loaded with the `config` crate and validated.
