//! Reading `dialer.toml`: the layers merged, every key checked, each problem naming the file
//! and key.

use super::*;

/// Load and validate `dialer.toml` with the process environment.
pub fn load(path: &Path) -> Result<DaemonConfig, Problems> {
    let state_default = std::env::var("DIALER_STATE_DIR").ok();
    load_with(path, &Env::from_process(), state_default.as_deref())
}

/// Load and validate `dialer.toml` with the given `DIALER__…` variables and state directory
/// default (`DIALER_STATE_DIR`).
pub fn load_with(
    path: &Path,
    env: &Env,
    state_dir_default: Option<&str>,
) -> Result<DaemonConfig, Problems> {
    let mut ctx = Ctx::new(path);
    let c = read(&mut ctx, path, env, state_dir_default);
    match c {
        Some(c) if ctx.problems.is_empty() => Ok(c),
        _ => Err(Problems(ctx.problems)),
    }
}

pub(super) fn read(
    ctx: &mut Ctx,
    path: &Path,
    env: &Env,
    state_dir_default: Option<&str>,
) -> Option<DaemonConfig> {
    let text = crate::campaign::load::read_toml(ctx, path)?;
    let mut b = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
    if let Some(s) = state_dir_default {
        let layer = format!("state_dir = {}", toml::Value::String(s.to_string()));
        b = b.add_source(File::from_str(&layer, FileFormat::Toml));
    }
    let cfg = match b
        .add_source(File::from_str(&text, FileFormat::Toml))
        .add_source(env.source("DIALER", &["DIALER__CAMPAIGN__"]))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            ctx.problem("", format!("cannot load: {e}"));
            return None;
        }
    };
    let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let resolve = |p: &str| {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let root = Table::root(&cfg.cache);

    let node_id = match root.string(ctx, "node_id") {
        Some(n) => node_name(ctx, "node_id", &n),
        None => Some(host_name()),
    };
    let database_url = root.string(ctx, "database_url");
    if let Some(u) = &database_url
        && !(u.starts_with("sqlite:")
            || u.starts_with("postgres://")
            || u.starts_with("postgresql://"))
    {
        ctx.problem(
            "database_url",
            format!("{u:?} is neither sqlite://… nor postgres://…"),
        );
    }
    let state_dir = root.req_string(ctx, "state_dir").map(|s| resolve(&s));
    let campaigns_dir = root.req_string(ctx, "campaigns_dir").map(|s| resolve(&s));

    let st = root.table(ctx, "sip");
    let sip_bind = st
        .req_string(ctx, "bind")
        .and_then(|s| socket(ctx, &st.key("bind"), &s));
    let public_ip = st
        .string(ctx, "public_ip")
        .and_then(|s| match s.parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                ctx.problem(st.key("public_ip"), format!("{s:?} is not an IP address"));
                None
            }
        });
    let public_ip_ok = st.get("public_ip").is_none() || public_ip.is_some();
    let register_min_expires =
        st.req_duration(ctx, "register_min_expires")
            .and_then(|(d, text)| {
                if (Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&d)
                    && d.subsec_nanos() == 0
                {
                    Some(d)
                } else {
                    ctx.problem(
                        st.key("register_min_expires"),
                        format!("{text:?} is not whole seconds from 1s to 1h"),
                    );
                    None
                }
            });
    let register_nonce_ttl = st
        .req_duration(ctx, "register_nonce_ttl")
        .and_then(|(d, text)| {
            if (Duration::from_secs(1)..=Duration::from_secs(24 * 3600)).contains(&d) {
                Some(d)
            } else {
                ctx.problem(
                    st.key("register_nonce_ttl"),
                    format!("{text:?} is not from 1s to 24h"),
                );
                None
            }
        });
    let digest_algorithms = st.strings(ctx, "digest_algorithms").and_then(|names| {
        use crate::sip::digest::Algorithm;
        let mut out = Vec::new();
        for (i, n) in names.iter().enumerate() {
            match [Algorithm::Md5, Algorithm::Sha256]
                .into_iter()
                .find(|a| a.as_str().eq_ignore_ascii_case(n))
            {
                Some(a) if !out.contains(&a) => out.push(a),
                Some(_) => ctx.problem(
                    format!("{}[{i}]", st.key("digest_algorithms")),
                    format!("{n:?} is listed twice"),
                ),
                None => ctx.problem(
                    format!("{}[{i}]", st.key("digest_algorithms")),
                    format!("{n:?} is not a digest algorithm we offer (\"MD5\" or \"SHA-256\")"),
                ),
            }
        }
        if names.is_empty() {
            ctx.problem(
                st.key("digest_algorithms"),
                "at least one algorithm is needed",
            );
        }
        (out.len() == names.len() && !out.is_empty()).then_some(out)
    });
    let realm = st.req_string(ctx, "realm").filter(|r| {
        let ok = !r.is_empty()
            && r.len() <= 64
            && r.chars()
                .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
        if !ok {
            ctx.problem(
                st.key("realm"),
                format!("{r:?} is not a usable digest realm (1–64 visible characters, no quotes)"),
            );
        }
        ok
    });
    st.finish(ctx);

    let trunks = trunks(ctx, &root);
    let agents = agents(ctx, &root);

    let at = root.table(ctx, "api");
    let api_bind = at
        .req_string(ctx, "bind")
        .and_then(|s| socket(ctx, &at.key("bind"), &s));
    let api_secret_ok = no_secret_in_file(ctx, &at, "token", "token_env");
    let api_token = at
        .string(ctx, "token_env")
        .and_then(|s| env_name(ctx, &at.key("token_env"), &s));
    let api_token_ok = (at.get("token_env").is_none() || api_token.is_some()) && api_secret_ok;
    let max_connections = at.req_int(ctx, "max_connections", 1, 65_536);
    let max_event_streams = at.req_int(ctx, "max_event_streams", 1, 65_536);
    let header_timeout = positive(ctx, &at, "header_timeout");
    let request_timeout = positive(ctx, &at, "request_timeout");
    let public_url = at.string(ctx, "public_url").filter(|u| {
        let ok = u.starts_with("http://") || u.starts_with("https://");
        if !ok {
            ctx.problem(
                at.key("public_url"),
                format!("{u:?} is not an http:// or https:// address"),
            );
        }
        ok
    });
    let public_url_ok = at.get("public_url").is_none() || public_url.is_some();
    let session_idle = positive(ctx, &at, "session_idle");
    let login_lockout = positive(ctx, &at, "login_lockout");
    at.finish(ctx);

    let mt = root.table(ctx, "media");
    let min = mt.req_int(ctx, "rtp_port_min", 1024, 65534);
    let max = mt.req_int(ctx, "rtp_port_max", 1025, 65535);
    if let (Some(lo), Some(hi)) = (min, max)
        && hi <= lo
    {
        ctx.problem(
            mt.key("rtp_port_max"),
            format!("{hi} is not above rtp_port_min ({lo})"),
        );
    }
    let recordings = mt.string(ctx, "recordings_dir").map(|s| resolve(&s));
    let recordings_keep = match mt.duration(ctx, "recordings_keep") {
        Some((d, text)) if d < Duration::from_secs(3600) => {
            ctx.problem(
                mt.key("recordings_keep"),
                format!("{text}: at least 1h (recordings are deleted by the hour)"),
            );
            None
        }
        other => other.map(|(d, _)| d),
    };
    mt.finish(ctx);

    let stt = root.table(ctx, "store");
    let mut store = StoreConfig::default();
    if let Some((d, text)) = stt.duration(ctx, "unwritable_watchdog") {
        if d < Duration::from_secs(1) {
            ctx.problem(
                stt.key("unwritable_watchdog"),
                format!(
                    "{text:?} is under 1s: a store that hiccups would get the daemon restarted"
                ),
            );
        } else {
            store.unwritable_watchdog = d;
        }
    }
    stt.finish(ctx);
    let desktop = desktop(ctx, &root);
    let webrtc = webrtc(ctx, &root);
    root.finish(ctx);

    let state_dir = state_dir?;
    let (min, max) = (min?, max?);
    if max <= min || !public_ip_ok || !api_token_ok || !public_url_ok {
        return None;
    }
    Some(DaemonConfig {
        source: path.to_path_buf(),
        node_id: node_id?,
        database_url,
        campaigns_dir: campaigns_dir?,
        sip: SipConfig {
            bind: sip_bind?,
            public_ip,
            realm: realm?,
            digest_algorithms: digest_algorithms?,
            register_min_expires: register_min_expires?,
            register_nonce_ttl: register_nonce_ttl?,
        },
        trunks: trunks?,
        agents: agents?,
        api: ApiConfig {
            bind: api_bind?,
            token_env: api_token,
            max_connections: usize::try_from(max_connections?).ok()?,
            max_event_streams: usize::try_from(max_event_streams?).ok()?,
            header_timeout: header_timeout?,
            request_timeout: request_timeout?,
            public_url,
            session_idle: session_idle?,
            login_lockout: login_lockout?,
        },
        media: MediaConfig {
            rtp_port_min: min as u16,
            rtp_port_max: max as u16,
            recordings_dir: recordings.unwrap_or_else(|| state_dir.join("recordings")),
            recordings_keep,
        },
        store,
        desktop: desktop?,
        webrtc: webrtc?,
        state_dir,
    })
}

/// `[webrtc]`: where the browsers' phones reach us. A `bind` on an unspecified address needs
/// `public_ip` (the candidate must be an address the browser can send to).
fn webrtc(ctx: &mut Ctx, root: &Table<'_>) -> Option<WebrtcConfig> {
    let t = root.table(ctx, "webrtc");
    let bind = t
        .req_string(ctx, "bind")
        .and_then(|s| socket(ctx, &t.key("bind"), &s));
    let public_ip = t
        .string(ctx, "public_ip")
        .and_then(|s| match s.parse::<IpAddr>() {
            Ok(ip) if !ip.is_unspecified() => Some(ip),
            _ => {
                ctx.problem(
                    t.key("public_ip"),
                    format!("{s:?} is not a usable IP address"),
                );
                None
            }
        });
    let public_ip_ok = t.get("public_ip").is_none() || public_ip.is_some();
    let connect_wait = positive(ctx, &t, "connect_wait");
    t.finish(ctx);
    let bind = bind?;
    if bind.ip().is_unspecified() && public_ip.is_none() && public_ip_ok {
        ctx.problem(
            t.key("bind"),
            format!(
                "{bind} is on every interface: set public_ip to the address browsers reach \
                 (it goes into the answer's ICE candidate)"
            ),
        );
        return None;
    }
    public_ip_ok.then_some(WebrtcConfig {
        bind,
        public_ip,
        connect_wait: connect_wait?,
    })
}

/// `[desktop]`: the pause reasons (default: break, lunch, training, meeting).
fn desktop(ctx: &mut Ctx, root: &Table<'_>) -> Option<DesktopConfig> {
    let dt = root.table(ctx, "desktop");
    let mut desktop = DesktopConfig::default();
    if dt.get("pause_reasons").is_some() {
        let tables = dt.tables(ctx, "pause_reasons");
        let mut ok = tables.is_some();
        let mut reasons = Vec::new();
        for t in tables.unwrap_or_default() {
            let code = t.req_string(ctx, "code").filter(|c| {
                safe_name(ctx, t.key("code"), c)
                    && if reasons.iter().any(|r: &PauseReason| r.code == *c) {
                        ctx.problem(t.key("code"), format!("pause reason {c:?} is listed twice"));
                        false
                    } else {
                        true
                    }
            });
            let label = t.req_string(ctx, "label").filter(|l| {
                if l.trim().is_empty() {
                    ctx.problem(t.key("label"), "empty label");
                    false
                } else {
                    !too_long(ctx, t.key("label"), l, LABEL_MAX)
                }
            });
            t.finish(ctx);
            match (code, label) {
                (Some(code), Some(label)) => reasons.push(PauseReason { code, label }),
                _ => ok = false,
            }
        }
        if ok && reasons.is_empty() {
            ctx.problem(
                dt.key("pause_reasons"),
                "at least one reason is needed (agents could not pause otherwise)",
            );
            ok = false;
        }
        if !ok {
            dt.finish(ctx);
            return None;
        }
        desktop.pause_reasons = reasons;
    }
    dt.finish(ctx);
    Some(desktop)
}

/// A name of at most [`NAME_MAX`] letters, digits, `-`, `_` and `.` (trunks, agent ids,
/// groups: they go into URLs, metrics labels and log lines).
pub(super) fn safe_name(ctx: &mut Ctx, key: String, n: &str) -> bool {
    if too_long(ctx, key.clone(), n, NAME_MAX) {
        return false;
    }
    if n.is_empty() {
        ctx.problem(key, "empty name");
        return false;
    }
    if !n
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        ctx.problem(
            key,
            format!("{n:?} is not a usable name (letters, digits, `-`, `_` and `.` only)"),
        );
        return false;
    }
    true
}

/// A required duration above zero.
pub(super) fn positive(ctx: &mut Ctx, t: &Table<'_>, k: &'static str) -> Option<Duration> {
    let (d, _) = t.req_duration(ctx, k)?;
    if d.is_zero() {
        ctx.problem(t.key(k), "must be above zero");
        return None;
    }
    Some(d)
}

pub(super) fn trunks(ctx: &mut Ctx, root: &Table<'_>) -> Option<Vec<Trunk>> {
    let tables = match root.get("trunks") {
        None => Vec::new(),
        Some(_) => root.tables(ctx, "trunks")?,
    };
    let mut out = Vec::new();
    let mut ok = true;
    let mut names = BTreeSet::new();
    for t in tables {
        let name = t.req_string(ctx, "name").and_then(|n| {
            if !safe_name(ctx, t.key("name"), &n) {
                None
            } else if !names.insert(n.clone()) {
                ctx.problem(t.key("name"), format!("trunk {n:?} is defined twice"));
                None
            } else {
                Some(n)
            }
        });
        let host = t.req_string(ctx, "host");
        let port = t.int(ctx, "port", 1, 65535);
        let port_ok = t.get("port").is_none() || port.is_some();
        let transport = t.get("transport").and_then(|i| {
            crate::campaign::load::choice(
                ctx,
                &i,
                &[("udp", Transport::Udp), ("tcp", Transport::Tcp)],
            )
        });
        let transport_ok = t.get("transport").is_none() || transport.is_some();
        let username = t.string(ctx, "username");
        if !no_secret_in_file(ctx, &t, "password", "password_env") {
            ok = false;
        }
        let password_env = t
            .string(ctx, "password_env")
            .and_then(|s| env_name(ctx, &t.key("password_env"), &s));
        let penv_ok = t.get("password_env").is_none() || password_env.is_some();
        let max_channels = t.int(ctx, "max_channels", 1, 100_000);
        let mc_ok = t.get("max_channels").is_none() || max_channels.is_some();
        let cps = match t.get("calls_per_second") {
            None => Some(5.0),
            Some(i) => i.float(ctx).and_then(|f| {
                if f > 0.0 && f <= 1000.0 {
                    Some(f)
                } else {
                    ctx.problem(
                        &i.key,
                        format!("{f} is out of range (above 0, at most 1000)"),
                    );
                    None
                }
            }),
        };
        t.finish(ctx);
        match (name, host, cps) {
            (Some(name), Some(host), Some(calls_per_second))
                if port_ok && transport_ok && penv_ok && mc_ok =>
            {
                out.push(Trunk {
                    name,
                    host,
                    port: port.unwrap_or(5060) as u16,
                    transport: transport.unwrap_or(Transport::Udp),
                    username,
                    password_env,
                    max_channels: max_channels.unwrap_or(30) as u32,
                    calls_per_second,
                })
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

pub(super) fn agents(ctx: &mut Ctx, root: &Table<'_>) -> Option<Vec<Agent>> {
    let tables = match root.get("agents") {
        None => Vec::new(),
        Some(_) => root.tables(ctx, "agents")?,
    };
    let mut out = Vec::new();
    let mut ok = true;
    let mut ids = BTreeSet::new();
    let mut sip_users = BTreeSet::new();
    for t in tables {
        let id = t.req_string(ctx, "id").and_then(|n| {
            if !safe_name(ctx, t.key("id"), &n) {
                None
            } else if !ids.insert(n.clone()) {
                ctx.problem(t.key("id"), format!("agent {n:?} is defined twice"));
                None
            } else {
                Some(n)
            }
        });
        let name = t
            .string(ctx, "name")
            .filter(|n| !too_long(ctx, t.key("name"), n, LABEL_MAX));
        let phone = phone(ctx, &t, &mut sip_users);
        let groups = t.strings(ctx, "groups").filter(|gs| {
            let mut ok = true;
            for (i, g) in gs.iter().enumerate() {
                ok &= safe_name(ctx, format!("{}[{i}]", t.key("groups")), g);
            }
            ok
        });
        if groups.as_ref().is_some_and(|g| g.is_empty()) {
            ctx.problem(t.key("groups"), "at least one group is needed");
        }
        if t.get("groups").is_none() {
            ctx.problem(t.key("groups"), "missing (required)");
        }
        if !no_secret_in_file(ctx, &t, "token", "token_env") {
            ok = false;
        }
        let token_env = t
            .string(ctx, "token_env")
            .and_then(|s| env_name(ctx, &t.key("token_env"), &s));
        let tenv_ok = t.get("token_env").is_none() || token_env.is_some();
        t.finish(ctx);
        match (id, phone, groups) {
            (Some(id), Some(phone), Some(groups)) if !groups.is_empty() && tenv_ok => {
                out.push(Agent {
                    name: name.unwrap_or_else(|| id.clone()),
                    id: AgentId::from(id),
                    phone,
                    groups,
                    token_env,
                })
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// The kinds of agent phone `phone` may name.
pub(super) const PHONE_KINDS: &str = "\"sip\" (a fixed sip_uri), \"registered\" (a softphone \
     that registers) or \"browser\" (the agent's desktop page)";

/// An agent's phone: `phone` (default `"sip"`) and the keys of its kind; the keys of another
/// kind are refused so a half-changed entry cannot pass. `sip_users` holds the users seen.
pub(super) fn phone(
    ctx: &mut Ctx,
    t: &Table<'_>,
    sip_users: &mut BTreeSet<String>,
) -> Option<Phone> {
    let kind = match t.get("phone") {
        None => Some("sip".to_owned()),
        Some(_) => t.string(ctx, "phone"),
    }?;
    let refuse = |ctx: &mut Ctx, key: &'static str, kind: &str| {
        if t.get(key).is_some() {
            ctx.problem(
                t.key(key),
                format!("not a key of phone = {kind:?} (its phone is reached another way)"),
            );
        }
    };
    match kind.as_str() {
        "sip" => {
            refuse(ctx, "sip_user", "sip");
            refuse(ctx, "password_env", "sip");
            let uri = t.req_string(ctx, "sip_uri")?;
            if (uri.starts_with("sip:") || uri.starts_with("sips:")) && uri.contains('@') {
                Some(Phone::Uri(uri))
            } else {
                ctx.problem(
                    t.key("sip_uri"),
                    format!(
                        "{uri:?} is not a SIP URI like \"sip:alice@127.0.0.1:5070\" (or use \
                         phone = \"registered\" for a softphone that registers)"
                    ),
                );
                None
            }
        }
        "registered" => {
            refuse(ctx, "sip_uri", "registered");
            let ok = no_secret_in_file(ctx, t, "password", "password_env");
            let user = t.req_string(ctx, "sip_user").and_then(|u| {
                if !sip_user_ok(&u) {
                    ctx.problem(
                        t.key("sip_user"),
                        format!(
                            "{u:?} is not a usable SIP user (1–64 letters, digits, `-`, `_`, `.`)"
                        ),
                    );
                    None
                } else if !sip_users.insert(u.clone()) {
                    ctx.problem(
                        t.key("sip_user"),
                        format!("SIP user {u:?} belongs to another agent already"),
                    );
                    None
                } else {
                    Some(u)
                }
            });
            let password_env = match t.get("password_env") {
                None => {
                    ctx.problem(
                        t.key("password_env"),
                        "missing (required for phone = \"registered\": the variable or systemd \
                         credential holding the phone's SIP password)",
                    );
                    None
                }
                Some(_) => t
                    .string(ctx, "password_env")
                    .and_then(|s| env_name(ctx, &t.key("password_env"), &s)),
            };
            match (user, password_env) {
                (Some(sip_user), Some(password_env)) if ok => Some(Phone::Registered {
                    sip_user,
                    password_env,
                }),
                _ => None,
            }
        }
        "browser" => {
            refuse(ctx, "sip_uri", "browser");
            refuse(ctx, "sip_user", "browser");
            refuse(ctx, "password_env", "browser");
            Some(Phone::Browser)
        }
        other => {
            ctx.problem(
                t.key("phone"),
                format!("{other:?} is not a kind of agent phone: {PHONE_KINDS}"),
            );
            None
        }
    }
}

/// A SIP user part we accept for a registered phone (it goes into logs and metrics).
fn sip_user_ok(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 64
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A secret written into the file under `key` is refused with the way to do it (true when
/// there is none). Read so it is not also reported as a bare unknown key.
pub(super) fn no_secret_in_file(
    ctx: &mut Ctx,
    t: &Table<'_>,
    key: &'static str,
    env_key: &str,
) -> bool {
    if t.get(key).is_none() {
        return true;
    }
    ctx.problem(
        t.key(key),
        format!(
            "unknown key `{key}`; secrets are read from the environment: use \
             `{env_key} = \"VAR\"` (a variable, or a systemd credential, of that name holds it)"
        ),
    );
    false
}

/// The longest `node_id`.
pub(super) const NODE_ID_MAX: usize = 64;

/// A node id: 1–64 letters, digits, `.`, `-`, `_` (a host name fits).
pub(super) fn node_name(ctx: &mut Ctx, key: &str, s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.len() <= NODE_ID_MAX
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Some(s.to_owned())
    } else {
        let shown: String = s.chars().take(NODE_ID_MAX).collect();
        ctx.problem(
            key,
            format!(
                "{shown:?}{} is not a node id (1–{NODE_ID_MAX} letters, digits, `.`, `-`, `_`)",
                if shown.len() < s.len() { "…" } else { "" }
            ),
        );
        None
    }
}

/// The machine's host name (the default `node_id`; Linux keeps it in
/// `/proc/sys/kernel/hostname`); `localhost` when there is no usable one.
pub fn host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = name.trim();
    let usable = !name.is_empty()
        && name.len() <= NODE_ID_MAX
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if usable {
        name.to_owned()
    } else {
        "localhost".to_owned()
    }
}

pub(super) fn socket(ctx: &mut Ctx, key: &str, s: &str) -> Option<SocketAddr> {
    match s.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            ctx.problem(
                key,
                format!("{s:?} is not an address:port like \"127.0.0.1:5060\""),
            );
            None
        }
    }
}

pub(super) fn env_name(ctx: &mut Ctx, key: &str, s: &str) -> Option<String> {
    let mut cs = s.chars();
    let ok = cs
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && cs.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Some(s.to_string())
    } else {
        ctx.problem(
            key,
            format!("{s:?} is not an environment variable name (A-Z, 0-9, _)"),
        );
        None
    }
}
