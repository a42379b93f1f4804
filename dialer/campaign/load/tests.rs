//! Validation on an in-memory file set: no file is read from disk.

use std::path::Path;

use super::*;

/// A campaign file that is nowhere on disk; its lists and prompts are in the [`FileSet`].
const SOURCE: &str = "/nowhere/campaigns/sales.toml";

const SALES: &str = r#"
kind = "cold"
mode = "predictive"
trunk = "main"
caller_id = "+12025550143"
agent_groups = ["sales"]
safe_harbor = "audio/safe.wav"

[[lists]]
file = "lists/a.csv"
columns = { phone = "mobile", timezone = "tz" }

[hours]
timezone = "America/New_York"

[dnc]
files = ["dnc.txt"]

[[dispositions]]
code = "sale"
effect = "final"
"#;

fn files() -> FileSet {
    FileSet::new()
        .wav("/nowhere/campaigns/audio/safe.wav")
        .file("/nowhere/campaigns/dnc.txt")
}

fn problems(r: Result<Campaign, Problems>) -> Vec<String> {
    match r {
        Ok(c) => panic!("expected problems, loaded {}", c.name),
        Err(p) => {
            p.0.iter()
                .map(|p| format!("{}: {}", p.key, p.message))
                .collect()
        }
    }
}

#[test]
fn a_campaign_validates_against_the_headers_it_is_given() {
    let set = files().list("/nowhere/campaigns/lists/a.csv", &["mobile", "tz", "name"]);
    let c =
        validate(Path::new(SOURCE), SALES, &Env::default(), &set).unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(c.name, "sales");
    assert_eq!(c.lists[0].file, Path::new("/nowhere/campaigns/lists/a.csv"));
    assert_eq!(c.lists[0].columns.phone, "mobile");
    assert_eq!(
        c.safe_harbor,
        Path::new("/nowhere/campaigns/audio/safe.wav")
    );
    assert_eq!(c.dnc.files, [Path::new("/nowhere/campaigns/dnc.txt")]);
}

#[test]
fn a_mapped_column_missing_from_the_header_is_named() {
    let set = files().list("/nowhere/campaigns/lists/a.csv", &["phone", "tz"]);
    let got = problems(validate(Path::new(SOURCE), SALES, &Env::default(), &set));
    assert_eq!(
        got,
        [
            "lists[0].columns.phone: column \"mobile\" is not in the header of \
             /nowhere/campaigns/lists/a.csv (columns: phone, tz)"
        ]
    );
}

#[test]
fn a_list_path_that_is_a_directory_or_missing_is_named_so() {
    let set = files().dir("/nowhere/campaigns/lists/a.csv");
    let got = problems(validate(Path::new(SOURCE), SALES, &Env::default(), &set));
    assert_eq!(
        got,
        ["lists[0].file: /nowhere/campaigns/lists/a.csv is a directory, not a file"]
    );
    let got = problems(validate(
        Path::new(SOURCE),
        SALES,
        &Env::default(),
        &FileSet::new(),
    ));
    assert_eq!(
        got,
        [
            "lists[0].file: file not found: /nowhere/campaigns/lists/a.csv",
            "safe_harbor: file not found: /nowhere/campaigns/audio/safe.wav",
            "dnc.files[0]: file not found: /nowhere/campaigns/dnc.txt",
        ]
    );
}

#[test]
fn bad_toml_in_the_given_text_names_the_line() {
    let got = problems(validate(
        Path::new(SOURCE),
        "kind = \"cold\"\nmode = \n",
        &Env::default(),
        &files(),
    ));
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("line 2: not valid TOML"), "{got:?}");
}

#[test]
fn a_script_is_read_and_each_mistake_named() {
    let set = files().list("/nowhere/campaigns/lists/a.csv", &["mobile", "tz"]);
    let good = format!(
        "{SALES}\n[script]\ntext = \"Hello, this is Sam.\"\n\n[[script.questions]]\nid = \"interest\"\n\
         text = \"Would you like a quote?\"\nanswers = [{{key = \"yes\", label = \"Yes\"}}, {{key = \"no\", label = \"No\"}}]\n"
    );
    let c =
        validate(Path::new(SOURCE), &good, &Env::default(), &set).unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(c.script.text.as_deref(), Some("Hello, this is Sam."));
    let q = c.script.question("interest").expect("the question");
    assert_eq!(q.text, "Would you like a quote?");
    let keys: Vec<(&str, &str)> = q
        .answers
        .iter()
        .map(|a| (a.key.as_str(), a.label.as_str()))
        .collect();
    assert_eq!(keys, [("yes", "Yes"), ("no", "No")]);
    // No [script]: an empty one.
    let c = validate(Path::new(SOURCE), SALES, &Env::default(), &set).unwrap();
    assert_eq!(c.script, crate::campaign::Script::default());

    let bad = format!(
        "{SALES}\n[script]\ntext = \" \"\ntone = \"warm\"\n\n[[script.questions]]\nid = \"Interest\"\ntext = \"?\"\n\
         answers = [{{key = \"yes\", label = \"Yes\"}}, {{key = \"yes\", label = \"Sure\"}}]\n\n\
         [[script.questions]]\nid = \"budget\"\ntext = \"Budget?\"\nanswers = []\n\n\
         [[script.questions]]\nid = \"budget\"\nanswers = [{{key = \"low\"}}]\n"
    );
    let got = problems(validate(Path::new(SOURCE), &bad, &Env::default(), &set));
    for want in [
        "script.text: empty text",
        "script.tone: unknown key",
        "script.questions[0].id: \"Interest\" is not a snake_case id",
        "script.questions[0].answers[1].key: \"yes\" is used twice",
        "script.questions[1].answers: at least one answer is needed",
        "script.questions[2].id: \"budget\" is used twice",
        "script.questions[2].text: missing",
        "script.questions[2].answers[0].label: missing",
    ] {
        assert!(
            got.iter().any(|p| p.starts_with(want)),
            "{want:?} not in {got:#?}"
        );
    }
}

#[test]
fn the_opt_out_defaults_to_nine_on_the_campaign_list_and_bad_values_are_named() {
    let set = files()
        .list("/nowhere/campaigns/lists/a.csv", &["mobile", "tz"])
        .wav("/nowhere/campaigns/audio/bye.wav");
    let c =
        validate(Path::new(SOURCE), SALES, &Env::default(), &set).unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(
        c.dnc.opt_out,
        OptOutPolicy {
            key: '9',
            scope: OptOutScope::Campaign,
            wait: std::time::Duration::from_secs(1),
            confirm: None,
        }
    );
    let text = SALES.replace(
        "[dnc]\n",
        "[dnc]\nopt_out_key = \"#\"\nopt_out_scope = \"global\"\nopt_out_confirm = \"audio/bye.wav\"\n",
    );
    let c =
        validate(Path::new(SOURCE), &text, &Env::default(), &set).unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(
        (c.dnc.opt_out.key, c.dnc.opt_out.scope),
        ('#', OptOutScope::Global)
    );
    assert_eq!(
        c.dnc.opt_out.confirm,
        Some(Prompt::Wav("/nowhere/campaigns/audio/bye.wav".into()))
    );
    let text = SALES.replace(
        "[dnc]\n",
        "[dnc]\nopt_out_key = \"99\"\nopt_out_scope = \"everywhere\"\nopt_out_wait = \"30s\"\n",
    );
    let got = problems(validate(Path::new(SOURCE), &text, &Env::default(), &set));
    assert_eq!(
        got,
        [
            "dnc.opt_out_key: \"99\": one key of 0-9, * or #",
            "dnc.opt_out_scope: \"everywhere\": \"campaign\" or \"global\"",
            "dnc.opt_out_wait: 30s: at most 10s",
        ]
    );
}

#[test]
fn the_opt_out_key_cannot_be_turned_off() {
    let set = files().list("/nowhere/campaigns/lists/a.csv", &["mobile", "tz"]);
    for off in ["off", "none", ""] {
        let text = SALES.replace("[dnc]\n", &format!("[dnc]\nopt_out_key = \"{off}\"\n"));
        let got = problems(validate(Path::new(SOURCE), &text, &Env::default(), &set));
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].starts_with(&format!(
                "dnc.opt_out_key: \"{off}\": the opt-out key cannot be turned off"
            )) && got[0].contains("64.1200(b)(3)"),
            "{got:?}"
        );
    }
}
