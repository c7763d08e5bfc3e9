//! The documents are tested, so that a renamed key, flag, variable or
//! message breaks the build, not the reader:
//!
//! - every YAML block loads as a configuration with no error and no warning,
//!   and a ```` ```yaml error ```` (or ```` warning ````) block fails (or
//!   warns) with exactly the message of the block after it;
//! - the configuration reference of `docs/deployment.md` lists exactly the
//!   keys the loader accepts, and each written default is the real one;
//! - every `section.key`, `CHI_*` and `WRP_*` name the documents mention
//!   exists;
//! - every command line that calls one of the tools parses (its flags and
//!   values are accepted);
//! - the ```` ```bash runnable ```` blocks of each document run in order, as
//!   one script, against the tools built by this test run, and succeed.
//!
//! How a runnable script is run: in a fresh directory holding a copy of
//! `config/`, `scripts/` and `target/release/` (the tools of this build), with the
//! tools on `PATH` and `CHI_SERVER_CONF` naming a small configuration on a
//! port of its own (its main segment room for 10,000 tasks), in its own process group that is killed afterwards.
//! Blocks with a `file=PATH` attribute are written to `PATH` (relative to
//! the script's directory at that point) before the blocks after them run;
//! in them, `/path/to/chimaera-rs` stands for this checkout.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chimaera::config::{COMMON_KEYS, RuntimeConfig, known_keys, parse_config};
use chimaera_test_support::markdown::{Block, blocks, documents, inline_code, read, shell_commands};
use chimaera_test_support::{RuntimeProcess, SMALL_CONFIG, artifacts, workspace_root};

/// The tools whose command lines are checked and run.
const TOOLS: [&str; 6] = [
    "chimaera",
    "chimaera_start_runtime",
    "chimaera_stop_runtime",
    "chimaera_status",
    "chimaera_compose",
    "chimaera_bench",
];

/// The placeholder module authors replace with their checkout.
const CHECKOUT_PLACEHOLDER: &str = "/path/to/chimaera-rs";

/// How long one document's runnable script may take (it may build a crate).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

fn all_blocks() -> Vec<Block> {
    documents().iter().flat_map(|d| blocks(d)).collect()
}

fn fail_all(what: &str, failures: &[String]) {
    assert!(failures.is_empty(), "{what}:\n{}", failures.join("\n"));
}

#[test]
fn the_documents_have_blocks_of_every_kind_this_test_checks() {
    let blocks = all_blocks();
    let count = |f: &dyn Fn(&Block) -> bool| blocks.iter().filter(|b| f(b)).count();
    // Guards against a parser change that would silently find nothing.
    assert!(count(&|b| b.lang == "yaml" && !expects_message(b)) >= 3, "{blocks:#?}");
    assert!(count(&|b| b.lang == "yaml" && expects_message(b)) >= 3);
    assert!(count(&|b| b.is_shell() && b.has("runnable")) >= 3);
    assert!(count(&|b| b.attr("file").is_some()) >= 3);
}

#[test]
fn every_yaml_block_loads_as_a_configuration_without_warnings() {
    let mut failures = Vec::new();
    for block in all_blocks().iter().filter(|b| b.lang == "yaml" && !expects_message(b)) {
        match parse_config(&block.text, &block.at()) {
            Ok(parsed) if parsed.warnings.is_empty() => {}
            Ok(parsed) => failures.push(format!("{}: warnings: {:?}", block.at(), parsed.warnings)),
            Err(e) => failures.push(format!("{}: {e}", block.at())),
        }
    }
    fail_all("YAML blocks that do not load cleanly", &failures);
}

/// A YAML block documented with the message it gets.
fn expects_message(block: &Block) -> bool {
    block.has("error") || block.has("warning")
}

/// A ```` ```yaml error ```` or ```` warning ```` block and the message
/// block after it: the message is exactly what the loader says, for the file
/// the message names.
#[test]
fn documented_configuration_errors_are_the_messages_printed() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let blocks = blocks(&doc);
        for (i, block) in blocks.iter().enumerate().filter(|(_, b)| b.lang == "yaml" && expects_message(b)) {
            let Some(expected) = blocks.get(i + 1).map(|b| b.text.trim_end()) else {
                failures.push(format!(
                    "{}: a `yaml error` or `warning` block needs a message block after it",
                    block.at()
                ));
                continue;
            };
            let file = expected.split(": ").next().unwrap_or_default();
            let got = match parse_config(&block.text, file) {
                Ok(parsed) if block.has("warning") => parsed.warnings.join("\n"),
                Ok(_) => "(loads without error)".to_owned(),
                Err(e) if block.has("error") => e.to_string(),
                Err(e) => format!("(an error, not a warning) {e}"),
            };
            checked += 1;
            if got != expected {
                failures.push(format!("{}:\n  documented: {expected}\n  printed:    {got}", block.at()));
            }
        }
    }
    fail_all("documented messages that differ from the loader's", &failures);
    assert!(checked >= 3, "only {checked} `yaml error` or `warning` blocks found");
}

/// One row of the configuration reference: `section.key` and its default.
struct KeyRow {
    key: String,
    kind: String,
    default: String,
    at: String,
}

/// The rows of the tables under `## Configuration reference`, one table per
/// `### \`section\`` heading.
fn reference_rows() -> Vec<KeyRow> {
    let doc = Path::new("docs/deployment.md");
    let text = read(doc);
    let mut rows = Vec::new();
    let mut in_reference = false;
    let mut section = None;
    let mut default_column = None;
    let mut type_column = None;
    for (n, line) in text.lines().enumerate() {
        if let Some(heading) = line.strip_prefix("## ") {
            in_reference = heading == "Configuration reference";
            section = None;
        } else if let Some(heading) = line.strip_prefix("### ") {
            section = heading.strip_prefix('`').and_then(|h| h.strip_suffix('`')).map(str::to_owned);
        }
        let (true, Some(section)) = (in_reference, section.as_deref()) else { continue };
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        if !line.starts_with('|') || cells.len() < 2 {
            continue;
        }
        if cells[0] == "key" {
            default_column = cells.iter().position(|c| *c == "default");
            type_column = cells.iter().position(|c| *c == "type");
            continue;
        }
        let Some(key) = cells[0].strip_prefix('`').and_then(|k| k.strip_suffix('`')) else { continue };
        rows.push(KeyRow {
            key: format!("{section}.{key}"),
            kind: type_column.and_then(|c| cells.get(c)).map(|c| c.to_string()).unwrap_or_default(),
            default: default_column.and_then(|c| cells.get(c)).map(|c| c.to_string()).unwrap_or_default(),
            at: format!("{}:{}", doc.display(), n + 1),
        });
    }
    rows
}

#[test]
fn the_configuration_reference_lists_exactly_the_keys_the_loader_accepts() {
    let rows = reference_rows();
    let documented: BTreeSet<String> = rows.iter().map(|r| r.key.clone()).collect();
    let mut accepted: BTreeSet<String> = known_keys().into_iter().collect();
    for key in COMMON_KEYS {
        accepted.insert(format!("compose.{key}"));
    }
    let undocumented: Vec<_> = accepted.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&accepted).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "docs/deployment.md's configuration reference is out of step with the loader:\n  \
         accepted but not documented: {undocumented:?}\n  documented but not accepted: {unknown:?}"
    );
}

/// Each written default, set explicitly, gives the built-in configuration.
#[test]
fn the_configuration_reference_gives_the_real_defaults() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in reference_rows() {
        let value = row.default.trim_matches('`');
        // No default ("none"), another key's ("as ..."), or not a key with
        // one (compose entries).
        if value.is_empty() || value == "none" || value.starts_with("as ") || row.key.starts_with("compose.")
        {
            continue;
        }
        let (section, key) = row.key.split_once('.').expect("section.key");
        let yaml = format!("{section}:\n  {key}: {value}\n");
        checked += 1;
        match parse_config(&yaml, &row.at) {
            Ok(parsed) if parsed.config == RuntimeConfig::default() && parsed.warnings.is_empty() => {}
            Ok(parsed) => failures.push(format!(
                "{}: `{}` = `{value}` is not the built-in default{}",
                row.at,
                row.key,
                if parsed.warnings.is_empty() { String::new() } else { format!(" ({:?})", parsed.warnings) }
            )),
            Err(e) => failures.push(format!("{}: `{}` = `{value}`: {e}", row.at, row.key)),
        }
    }
    fail_all("documented defaults that are not the real ones", &failures);
    assert!(checked >= 15, "only {checked} defaults found in the reference");
}

/// Each range written in a type column (`integer 1–1024`, `size
/// 16K–256M`, `seconds 0.001–3600`) is the loader's: both ends load, and
/// one step past either end is refused naming the key.
#[test]
fn the_configuration_reference_gives_the_real_ranges() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in reference_rows() {
        let Some((unit, range)) = row.kind.split_once(' ') else { continue };
        let Some((min, max)) = range.split_once('–') else { continue };
        let (section, key) = row.key.split_once('.').expect("section.key");
        let step = |value: &str, up: bool| -> Option<String> {
            match unit {
                "size" => {
                    let bytes = value.parse::<chimod_sdk::Size>().ok()?.bytes();
                    if up {
                        Some((bytes + 1).to_string())
                    } else {
                        bytes.checked_sub(1).map(|b| b.to_string())
                    }
                }
                _ if value.contains('.') => {
                    let v: f64 = value.parse().ok()?;
                    Some(if up { v + 1.0 } else { v / 2.0 }.to_string())
                }
                _ => {
                    let v: u64 = value.parse().ok()?;
                    if up { Some((v + 1).to_string()) } else { v.checked_sub(1).map(|v| v.to_string()) }
                }
            }
        };
        checked += 1;
        for (value, ok) in [
            (Some(min.to_owned()), true),
            (Some(max.to_owned()), true),
            (step(min, false), false),
            (step(max, true), false),
        ] {
            let Some(value) = value else { continue };
            let yaml = format!("{section}:\n  {key}: {value}\n");
            match (parse_config(&yaml, &row.at), ok) {
                (Ok(_), true) => {}
                (Err(e), false) if e.to_string().contains(": must be from ") => {}
                (result, _) => failures.push(format!(
                    "{}: `{}` = `{value}` should be {} by its range {range}: {result:?}",
                    row.at,
                    row.key,
                    if ok { "accepted" } else { "refused" }
                )),
            }
        }
    }
    fail_all("documented ranges that are not the loader's", &failures);
    assert!(checked >= 15, "only {checked} ranges found in the reference");
}

/// The README's quick reference names, per section, only keys that exist
/// (and every section the loader has but `performance`, the alias).
#[test]
fn the_readme_quick_reference_names_real_keys() {
    let known: BTreeSet<String> =
        known_keys().into_iter().chain(COMMON_KEYS.iter().map(|k| format!("compose.{k}"))).collect();
    let mut failures = Vec::new();
    let mut sections = BTreeSet::new();
    for (n, line) in read(Path::new("README.md")).lines().enumerate() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        let Some(section) = cells.first().and_then(|c| c.strip_prefix('`')).and_then(|c| c.strip_suffix('`'))
        else {
            continue;
        };
        if !line.starts_with('|')
            || cells.len() != 2
            || !known.iter().any(|k| k.starts_with(&format!("{section}.")))
        {
            continue;
        }
        sections.insert(section.to_owned());
        for key in top_level_code(cells[1]) {
            if !known.contains(&format!("{section}.{key}")) {
                failures.push(format!("README.md:{}: `{key}` is not a key of `{section}`", n + 1));
            }
        }
    }
    fail_all("README quick reference keys that do not exist", &failures);
    let expected: BTreeSet<String> = known
        .iter()
        .filter_map(|k| k.split('.').next())
        .filter(|s| *s != "performance")
        .map(str::to_owned)
        .collect();
    assert_eq!(sections, expected, "sections in the README's quick reference");
}

/// The `` `code` `` spans of a table cell outside parentheses: the keys of
/// "`port` (5555), `level` (`info`: ...)".
fn top_level_code(cell: &str) -> Vec<&str> {
    let mut spans = Vec::new();
    let mut depth = 0usize;
    let mut start = None;
    for (i, c) in cell.char_indices() {
        match c {
            '(' if start.is_none() => depth += 1,
            ')' if start.is_none() => depth = depth.saturating_sub(1),
            '`' if depth == 0 => match start.take() {
                Some(s) => spans.push(&cell[s..i]),
                None => start = Some(i + 1),
            },
            _ => {}
        }
    }
    spans
}

/// The messages the documents quote (in `text` blocks and the
/// troubleshooting table) are the code's: in the longest run of words of
/// each line that holds no value (digits, paths, names in backticks or with
/// underscores), some three words in a row appear in a string literal of
/// the runtime, the tools or the modules (format arguments read as blanks). The system's own words (`...: No such file or
/// directory (os error 2)`) and log excerpts (lines that start with a
/// level) are left out.
/// Where the code that prints messages and reads variables lives.
const CODE_DIRS: [&str; 9] = [
    "runtime/src",
    "util/src",
    "chimod-sdk/src",
    "chimods",
    "config/src",
    "protocol/src",
    "client/src",
    "client-c/src",
    "python/src",
];

#[test]
fn quoted_messages_are_the_code_s_own_words() {
    let mut code = String::new();
    for dir in CODE_DIRS {
        collect_sources(&workspace_root().join(dir), &mut code);
    }
    // Only what the code can print: its string literals.
    let sources = without_placeholders(&string_literals(&code));
    let mut lines = Vec::new();
    for doc in documents() {
        for block in blocks(&doc).iter().filter(|b| b.lang == "text") {
            lines.extend(block.text.lines().map(|l| (block.at(), l.to_owned())));
        }
    }
    let guide = read(Path::new("docs/deployment.md"));
    let table = guide.split("## Troubleshooting").nth(1).expect("a troubleshooting section");
    let table = table.split("\n## ").next().unwrap_or_default();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let cell = row.trim_start_matches('|').split(" | ").next().unwrap_or_default();
        lines.push((
            "docs/deployment.md (troubleshooting)".to_owned(),
            cell.trim_matches([' ', '`']).to_owned(),
        ));
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for (at, line) in &lines {
        let is_log = ["DEBUG ", "INFO ", "WARN ", "ERROR "].iter().any(|level| line.starts_with(level));
        let ours = line
            .find("(os error")
            .and_then(|os| line[..os].rfind(": "))
            .map_or(line.as_str(), |end| &line[..end]);
        let Some(words) = fixed_words(ours).filter(|_| !is_log) else { continue };
        checked += 1;
        if !words.windows(3).any(|w| sources.contains(&w.join(" "))) {
            failures.push(format!("{at}: \"{}\" (from `{line}`) is not in the source", words.join(" ")));
        }
    }
    fail_all("quoted messages whose words the code does not print", &failures);
    assert!(checked >= 20, "only {checked} quoted messages checked");
}

/// The longest run of at least three value-free words of `line`.
fn fixed_words(line: &str) -> Option<Vec<&str>> {
    let fixed = |w: &str| {
        !w.is_empty()
            && !w
                .chars()
                .any(|c| c.is_ascii_digit() || matches!(c, '/' | '`' | '_' | '=' | '"' | '<' | '>' | '{'))
            && w != "..."
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut best: &[&str] = &[];
    let mut start = 0;
    for end in 0..=words.len() {
        if end == words.len() || !fixed(words[end]) {
            if end - start > best.len() {
                best = &words[start..end];
            }
            start = end + 1;
        }
    }
    (best.len() >= 3).then(|| best.to_vec())
}

/// The contents of the string literals of Rust source, one per line, with
/// `\\`-newline continuations joined as the compiler joins them.
fn string_literals(source: &str) -> String {
    let mut out = String::new();
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                chars.by_ref().take_while(|c| *c != '\n').for_each(drop);
            }
            '\'' => {
                // A char literal ('"', '\\'') or a lifetime: skip what could
                // otherwise open a string.
                if chars.peek() == Some(&'\\') {
                    chars.next();
                    chars.next();
                } else {
                    chars.next();
                }
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('\n') => {
                                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                                    chars.next();
                                }
                            }
                            Some(escaped) => out.push(escaped),
                            None => {}
                        },
                        c => out.push(c),
                    }
                }
                out.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// Format strings with each `{...}` read as a blank.
fn without_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => {
                depth -= 1;
                out.push(' ');
            }
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn string_literals_are_read_as_the_compiler_reads_them() {
    assert_eq!(without_placeholders("ignored{hint} at {at:?}."), "ignored  at  .");
    let source = "let a = \"one \\\n    two\"; // \"not this\"\nlet c = '\"'; f(\"three \\\"x\\\"\");";
    assert_eq!(string_literals(source), "one two\nthree \"x\"\n");
}

/// Every `section.key` written as inline code in any document is a key.
#[test]
fn key_paths_named_in_the_documents_exist() {
    let known: BTreeSet<String> = known_keys().into_iter().collect();
    let sections: BTreeSet<&str> = known.iter().filter_map(|k| k.split('.').next()).collect();
    let mut failures = Vec::new();
    for doc in documents() {
        for code in inline_code(&doc) {
            let Some((section, key)) = code.text.split_once('.') else { continue };
            let is_key_path = sections.contains(section)
                && !key.is_empty()
                && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if is_key_path && !known.contains(&code.text) {
                failures.push(format!("{}: `{}` is not a configuration key", code.at, code.text));
            }
        }
    }
    fail_all("key paths in the documents that the loader does not know", &failures);
}

/// Every `CHI_*` or `WRP_*` variable a document names is read somewhere in
/// the code: runtime, tools, SDK, modules, container scripts, or the tests'
/// own knobs (this file aside, which names them all).
#[test]
fn environment_variables_named_in_the_documents_exist() {
    let mut sources = String::new();
    for dir in CODE_DIRS.iter().chain(&["docker", "scripts", "tests"]) {
        collect_sources(&workspace_root().join(dir), &mut sources);
    }
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    for doc in documents() {
        for var in variables_in(&read(&doc)) {
            if seen.insert(var.clone()) && !sources.contains(&var) {
                failures.push(format!("{}: `{var}` is not read by any code", doc.display()));
            }
        }
    }
    fail_all("variables in the documents that nothing reads", &failures);
    assert!(seen.contains("CHI_SERVER_CONF") && seen.contains("CHI_REPO_PATH"), "{seen:?}");
}

fn collect_sources(path: &Path, into: &mut String) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> =
            fs::read_dir(path).expect("read dir").map(|e| e.expect("entry").path()).collect();
        entries.sort();
        let skip = |p: &PathBuf| p.ends_with("target") || p.ends_with("dist") || p.ends_with("tests/docs.rs");
        for entry in entries.iter().filter(|p| !skip(p)) {
            collect_sources(entry, into);
        }
    } else if let Ok(text) = fs::read_to_string(path) {
        into.push_str(&text);
    }
}

/// `CHI_NAME` and `WRP_NAME` words in `text`.
fn variables_in(text: &str) -> Vec<String> {
    let mut vars = Vec::new();
    for prefix in ["CHI_", "WRP_"] {
        for (at, _) in text.match_indices(prefix) {
            let starts_word =
                text[..at].chars().next_back().is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if starts_word && name.len() > prefix.len() && !name.ends_with('_') {
                vars.push(name);
            }
        }
    }
    vars
}

/// Every command line in a shell block that calls a tool (also inside
/// `docker exec ...`) parses: the tool accepts its flags and values. It is
/// run with `--help` appended, which the parser honours only when every
/// argument before it is valid.
#[test]
fn every_tool_command_line_in_the_documents_parses() {
    let bin_dir = artifacts().dir();
    let mut failures = Vec::new();
    let mut checked = 0;
    for block in all_blocks().iter().filter(|b| b.is_shell()) {
        for command in shell_commands(&block.text) {
            let Some(at) = command.iter().position(|w| TOOLS.contains(&tool_name(w))) else { continue };
            let tool = tool_name(&command[at]);
            let out = Command::new(bin_dir.join(tool))
                .args(&command[at + 1..])
                .arg("--help")
                .env_remove("CHI_SERVER_CONF")
                .env_remove("WRP_RUNTIME_CONF")
                .output()
                .expect("run a tool");
            checked += 1;
            if !out.status.success() {
                failures.push(format!(
                    "{}: `{}`: {}",
                    block.at(),
                    command[at..].join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
    }
    fail_all("tool command lines in the documents that do not parse", &failures);
    assert!(checked >= 10, "only {checked} tool command lines found");
}

fn tool_name(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// The README's test command is what CI runs.
#[test]
fn ci_runs_the_readme_test_command() {
    let readme = blocks(Path::new("README.md"));
    let test_block = readme
        .iter()
        .find(|b| b.is_shell() && b.text.contains("Run every test"))
        .expect("README.md has a block commented `Run every test`");
    let commands = shell_commands(&test_block.text);
    assert_eq!(commands.len(), 1, "{}: one command", test_block.at());
    let command = commands[0].join(" ");
    let ci = fs::read_to_string(workspace_root().join(".ci/run")).expect(".ci/run");
    let last = ci.lines().rev().find(|l| !l.trim().is_empty()).expect("a command in .ci/run");
    assert_eq!(last.trim(), command, ".ci/run must end by running the README's test command");
}

/// Each document's runnable blocks, run in order as one script.
#[test]
fn the_runnable_blocks_of_every_document_succeed() {
    let mut ran = Vec::new();
    for doc in documents() {
        let blocks = blocks(&doc);
        if !blocks.iter().any(|b| b.has("runnable")) {
            continue;
        }
        let started = Instant::now();
        run_document(&doc, &blocks);
        ran.push(format!("{} ({:.1}s)", doc.display(), started.elapsed().as_secs_f64()));
    }
    eprintln!("ran the runnable blocks of: {}", ran.join(", "));
    assert!(
        ran.len() >= 3,
        "expected runnable blocks in README.md, the deployment and module guides: {ran:?}"
    );
}

/// The documents' runtime: the small configuration with room for the
/// client guide's ten thousand tasks in flight and its 1 MiB buffers.
fn document_config() -> String {
    SMALL_CONFIG
        .replace("main_segment_size: 8M", "main_segment_size: 64M")
        .replace("client_data_segment_size: 4M", "client_data_segment_size: 16M")
}

fn run_document(doc: &Path, blocks: &[Block]) {
    let sandbox = RuntimeProcess::new(&document_config());
    let dir = sandbox.dir();
    let root = workspace_root();
    // A copy, so that a `file=` block can never write into the checkout.
    copy_dir(&root.join("config"), &dir.join("config"));
    std::os::unix::fs::symlink(root.join("scripts"), dir.join("scripts")).expect("link scripts/");
    fs::create_dir_all(dir.join("target")).expect("target/");
    std::os::unix::fs::symlink(artifacts().dir(), dir.join("target/release")).expect("link the tools");

    let script = script_of(blocks, root);
    let state = tempfile::tempdir().expect("a state directory");
    let mut expected: BTreeSet<String> = top_level_entries(dir);
    // The sandbox configuration's own log file, and the crate a guide has
    // the reader make (`cargo new NAME`): that is the reader's work, not
    // litter.
    expected.insert("chimaera.log".to_owned());
    expected.extend(
        blocks
            .iter()
            .filter(|b| b.has("runnable"))
            .flat_map(|b| b.text.lines())
            .filter_map(|line| line.split('#').next()?.trim().strip_prefix("cargo new "))
            .filter_map(|args| args.split_whitespace().last().map(str::to_owned)),
    );
    expected.extend(blocks.iter().filter_map(|b| b.attr("file")).filter_map(|p| {
        Path::new(p).components().next().map(|c| c.as_os_str().to_string_lossy().into_owned())
    }));
    // The client guide's Python example imports the package that
    // scripts/python_test.sh builds into target/python-env.
    let python_env = artifacts().target_dir().join("python-env/bin");
    let path = std::env::join_paths(
        [artifacts().dir().to_owned(), python_env.clone()]
            .into_iter()
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    if script.contains("python3 ") {
        let found = Command::new("python3").args(["-c", "import chimaera"]).env("PATH", &path).status();
        assert!(
            found.is_ok_and(|s| s.success()),
            "{}: its Python example needs the chimaera package; run scripts/python_test.sh once (it builds {})",
            doc.display(),
            python_env.display()
        );
    }
    let mut child = Command::new("bash")
        .args(["-c", &script])
        .current_dir(dir)
        .env("PATH", path)
        .env("CHI_SERVER_CONF", sandbox.config_path())
        // The record of runtime-created pools, outside the reader's checkout.
        .env("CHI_STATE_DIR", state.path())
        .env_remove("WRP_RUNTIME_CONF")
        .env_remove("CHI_REPO_PATH")
        .env_remove("CHI_NODE_ADDRESS")
        .env_remove("CARGO_TARGET_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("run bash");
    let group = rustix::process::Pid::from_child(&child);
    let output = collect_output(&mut child);
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the script") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Whatever the script left running (a runtime it failed to stop) goes.
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    let _ = child.wait();
    sandbox.remove_shared_memory();
    let (stdout, stderr) = output.join().expect("output reader");
    assert!(
        status.is_some_and(|s| s.success()),
        "{}: its runnable blocks failed ({}):\n--- script ---\n{script}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        doc.display(),
        status.map_or_else(|| format!("no exit within {SCRIPT_TIMEOUT:?}"), |s| s.to_string()),
    );
    // A documented example cleans up after itself: run where a reader
    // runs it (the checkout), it must leave nothing there.
    let left: Vec<String> = top_level_entries(dir).difference(&expected).cloned().collect();
    assert!(left.is_empty(), "{}: its runnable blocks left {left:?} behind", doc.display());
}

/// The names directly in `dir`.
fn top_level_entries(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .expect("read the script's directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create a directory");
    for entry in fs::read_dir(from).expect("read a directory") {
        let entry = entry.expect("entry");
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            fs::copy(entry.path(), to.join(entry.file_name())).expect("copy a file");
        }
    }
}

/// One bash script of a document's runnable blocks, with its `file=` blocks
/// written as here-documents where they stand.
fn script_of(blocks: &[Block], root: &Path) -> String {
    let mut script = String::from("set -euo pipefail\n");
    for block in blocks {
        if let Some(path) = block.attr("file") {
            let text = block.text.replace(CHECKOUT_PLACEHOLDER, &root.display().to_string());
            assert!(!text.contains("CHIMAERA_DOC_EOF"), "{}", block.at());
            script.push_str(&format!(
                "echo '>>> {at}: {path}' >&2\nmkdir -p \"$(dirname {path})\"\ncat > {path} <<'CHIMAERA_DOC_EOF'\n{text}CHIMAERA_DOC_EOF\n",
                at = block.at()
            ));
        } else if block.is_shell() && block.has("runnable") {
            script.push_str(&format!("echo '>>> {}' >&2\nset -x\n{}set +x\n", block.at(), block.text));
        }
    }
    script
}

/// Reads the script's stdout and stderr to the end on their own threads.
fn collect_output(child: &mut std::process::Child) -> std::thread::JoinHandle<(String, String)> {
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        (s, err_reader.join().unwrap_or_default())
    })
}

#[test]
fn quick_reference_cells_give_their_keys() {
    assert_eq!(top_level_code("`level` (`info`: debug), `file` (`/tmp/x`)"), ["level", "file"]);
}

#[test]
fn variables_are_found_as_whole_words() {
    assert_eq!(
        variables_in("set CHI_SERVER_CONF, not XCHI_A or CHI_*; WRP_RUNTIME_CONF."),
        ["CHI_SERVER_CONF", "WRP_RUNTIME_CONF"]
    );
}
