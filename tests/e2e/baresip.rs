//! baresip (Debian `baresip-core`) as an agent's softphone that registers: its own config
//! dir (UDP on 127.0.0.1, G.711, auto-answer), a WAV tone as its microphone (`aufile`), no
//! sound card (`aubridge`), and what it hears dumped to a WAV file (`sndfile`). Killed (no
//! unregistering, as a phone that loses power) when dropped or by [`Baresip::kill`].

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::rig;

/// Whether baresip is installed. Without it the caller skips, saying so on stdout, unless
/// `DIALER_REQUIRE_BARESIP=1` (CI), where a missing baresip fails the test.
pub fn have_baresip(what: &str) -> bool {
    // `baresip -h` prints its usage and exits non-zero: being able to run it is the test.
    let ok = Command::new("baresip")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        assert!(
            std::env::var("DIALER_REQUIRE_BARESIP").as_deref() != Ok("1"),
            "baresip is required (DIALER_REQUIRE_BARESIP=1) but not installed"
        );
        rig::skipped(&format!("baresip is not installed; {what} not run"));
    }
    ok
}

/// Turn every agent of a written `dialer.toml` into one whose phone registers (password in
/// `DIALER_AGENT_<ID>_SIP_PASSWORD`), and add the `sip` lines to `[sip]`.
pub fn register_phones(config: &Path, setup: &rig::Setup, sip: &str) {
    let mut text = std::fs::read_to_string(config).unwrap();
    let bind = format!("bind = \"127.0.0.1:{}\"\n", setup.sip);
    assert!(text.contains(&bind), "{text}");
    text = text.replace(&bind, &format!("{bind}{sip}\n"));
    for (id, port) in &setup.agents {
        let fixed = format!("sip_uri = \"sip:{id}@127.0.0.1:{port}\"\n");
        assert!(text.contains(&fixed), "{text}");
        text = text.replace(
            &fixed,
            &format!(
                "phone = \"registered\"\nsip_user = \"{id}\"\n\
                 password_env = \"DIALER_AGENT_{}_SIP_PASSWORD\"\n",
                id.to_uppercase()
            ),
        );
    }
    std::fs::write(config, text).unwrap();
}

/// One baresip process.
pub struct Baresip {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl Baresip {
    /// Register `user` with `password` at the daemon's SIP port `registrar`, asking for
    /// `regint` seconds; answer calls at once; send `microphone` (8 kHz mono PCM) in a loop.
    pub fn start(
        registrar: u16,
        user: &str,
        password: &str,
        regint: u32,
        microphone: &[i16],
    ) -> Baresip {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = rig::free_udp_port();
        let mic = dir.path().join("microphone.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&mic, spec).unwrap();
        for s in microphone {
            w.write_sample(*s).unwrap();
        }
        w.finalize().unwrap();
        let dump = dir.path().join("dump");
        std::fs::create_dir_all(&dump).unwrap();
        std::fs::write(
            dir.path().join("accounts"),
            format!(
                "<sip:{user}@127.0.0.1:{registrar}>;auth_pass={password};regint={regint};\
                 answermode=auto\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("config"),
            format!(
                "sip_listen 127.0.0.1:{port}\n\
                 sip_trans_def udp\n\
                 module_path /usr/lib/baresip/modules\n\
                 module g711.so\n\
                 module aufile.so\n\
                 module aubridge.so\n\
                 module sndfile.so\n\
                 module account.so\n\
                 audio_source aufile,{}\n\
                 audio_player aubridge,nil\n\
                 audio_alert aubridge,nil\n\
                 snd_path {}\n",
                mic.display(),
                dump.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("baresip.log")).unwrap();
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .arg("-v")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn baresip");
        Baresip {
            child: Some(child),
            dir,
            port,
        }
    }

    /// Its output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }

    /// Gone at once, as a phone losing power: no unregistering.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The audio of its last call that has ended (what the agent heard), once written.
    pub fn heard(&self) -> Option<Vec<i16>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("dump"))
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .collect();
        files.sort();
        let mut r = hound::WavReader::open(files.last()?).ok()?;
        let samples: Vec<i16> = r.samples::<i16>().filter_map(Result::ok).collect();
        (!samples.is_empty()).then_some(samples)
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        self.kill();
    }
}
