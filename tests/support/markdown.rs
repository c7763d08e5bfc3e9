//! The fenced code blocks and inline code of the project's Markdown
//! documents, for the tests that keep those documents true.
//!
//! A block's info string is its language followed by attributes:
//! ```` ```bash runnable ```` is run, ```` ```yaml error ```` must fail to
//! load with the message of the block after it, and ```` ```rust
//! file=src/lib.rs ```` is written to that path before the runnable blocks
//! after it run. Renderers show only the language.

use std::fs;
use std::path::{Path, PathBuf};

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

use crate::workspace_root;

/// One fenced code block.
#[derive(Debug, Clone)]
pub struct Block {
    /// The document, relative to the repository root.
    pub doc: PathBuf,
    /// The 1-based line of the opening fence.
    pub line: usize,
    /// The first word of the info string (`bash`, `yaml`, `text`, or empty).
    pub lang: String,
    /// The other words of the info string.
    pub attrs: Vec<String>,
    /// The block's content.
    pub text: String,
}

impl Block {
    /// Whether the info string carries `attr`.
    pub fn has(&self, attr: &str) -> bool {
        self.attrs.iter().any(|a| a == attr)
    }

    /// The value of a `key=value` attribute.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.iter().find_map(|a| a.strip_prefix(key)?.strip_prefix('='))
    }

    /// Whether this is a shell block.
    pub fn is_shell(&self) -> bool {
        matches!(self.lang.as_str(), "bash" | "sh" | "shell" | "console")
    }

    /// `docs/deployment.md:42`, for messages.
    pub fn at(&self) -> String {
        format!("{}:{}", self.doc.display(), self.line)
    }
}

/// One inline code span (`` `like this` ``).
#[derive(Debug, Clone)]
pub struct InlineCode {
    /// `docs/deployment.md:42`.
    pub at: String,
    /// The span's text.
    pub text: String,
}

/// Every Markdown document users read: `README.md`, `docs/*.md` and
/// `docker/README.md`, relative to the repository root.
pub fn documents() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut docs: Vec<PathBuf> = fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| p.strip_prefix(root).expect("under the root").to_owned())
        .collect();
    docs.sort();
    docs.insert(0, PathBuf::from("README.md"));
    docs.push(PathBuf::from("docker/README.md"));
    docs
}

/// The text of a document.
pub fn read(doc: &Path) -> String {
    let path = workspace_root().join(doc);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The fenced code blocks of a document, in order.
pub fn blocks(doc: &Path) -> Vec<Block> {
    let text = read(doc);
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (event, range) in Parser::new(&text).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let mut words = info.split_whitespace().map(str::to_owned);
                open = Some(Block {
                    doc: doc.to_owned(),
                    line: line_of(&text, range.start),
                    lang: words.next().unwrap_or_default(),
                    attrs: words.collect(),
                    text: String::new(),
                });
            }
            Event::Text(t) => {
                if let Some(block) = open.as_mut() {
                    block.text.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => blocks.extend(open.take()),
            _ => {}
        }
    }
    blocks
}

/// The inline code spans of a document, in order.
pub fn inline_code(doc: &Path) -> Vec<InlineCode> {
    let text = read(doc);
    Parser::new(&text)
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Code(code) => Some(InlineCode {
                at: format!("{}:{}", doc.display(), line_of(&text, range.start)),
                text: code.into_string(),
            }),
            _ => None,
        })
        .collect()
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// The commands of a shell block: continuation lines joined, comments
/// removed, split into words, and cut at `&&`, `||`, `;`, `|` and `&`.
pub fn shell_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut commands = Vec::new();
    for line in joined.lines() {
        let Some(words) = shlex::split(strip_comment(line)) else { continue };
        let mut current = Vec::new();
        for word in words {
            if matches!(word.as_str(), "&&" | "||" | ";" | "|" | "&") {
                commands.push(std::mem::take(&mut current));
            } else if let Some(rest) = word.strip_suffix(';').or_else(|| word.strip_suffix('&')) {
                current.push(rest.to_owned());
                commands.push(std::mem::take(&mut current));
            } else {
                current.push(word);
            }
        }
        commands.push(current);
    }
    commands.retain(|c| !c.is_empty());
    commands
}

/// A line without its `#` comment (a `#` at the start or after a blank,
/// outside quotes).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut prev_blank = true;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if prev_blank => return &line[..i],
            _ => {}
        }
        prev_blank = c.is_whitespace();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_split_and_comments_dropped() {
        let script = "export A=1 # set it\nchimaera_start_runtime &   # in the background\n\
                      a --x 'b # c' && d \\\n  --y; e | f\n# only a comment\n";
        assert_eq!(
            shell_commands(script),
            vec![
                vec!["export", "A=1"],
                vec!["chimaera_start_runtime"],
                vec!["a", "--x", "b # c"],
                vec!["d", "--y"],
                vec!["e"],
                vec!["f"],
            ]
        );
    }
}
