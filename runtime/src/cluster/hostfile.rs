//! The hostfile: one node address per line, in node-id order. Blank lines
//! and `#` comments (whole lines or after an address) are ignored; an
//! address that does not parse, or one listed twice, is an error naming
//! the file and line.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A hostfile that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostfileError {
    /// The file could not be read.
    #[error("hostfile {path}: cannot read it: {why}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// A line is not an IP address.
    #[error(
        "hostfile {path}: line {line}: `{text}` is not an IP address (one address per line; # starts a comment)"
    )]
    BadLine {
        /// The file.
        path: PathBuf,
        /// The line number (from 1).
        line: usize,
        /// What the line holds.
        text: String,
    },
    /// An address is listed twice.
    #[error(
        "hostfile {path}: line {line}: {address} is already node {node} (line {first_line}); each node once"
    )]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The line number of the repeat.
        line: usize,
        /// The address.
        address: IpAddr,
        /// The node id it already has.
        node: u32,
        /// Where it was first.
        first_line: usize,
    },
    /// No address at all.
    #[error("hostfile {path}: no addresses in it")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// The nodes of a cluster, by node id (the order of the hostfile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostfile {
    path: PathBuf,
    nodes: Vec<(IpAddr, usize)>,
}

impl Hostfile {
    /// Reads and checks the hostfile at `path`.
    pub fn load(path: &Path) -> Result<Hostfile, HostfileError> {
        let text = crate::config::read_small_text(path, crate::config::MAX_CONFIG_FILE)
            .map_err(|e| HostfileError::Unreadable { path: path.to_owned(), why: e.to_string() })?;
        Self::parse(path, &text)
    }

    /// Parses hostfile text (`path` names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Hostfile, HostfileError> {
        let mut nodes: Vec<(IpAddr, usize)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let address: IpAddr = content.parse().map_err(|_| HostfileError::BadLine {
                path: path.to_owned(),
                line,
                text: content.to_owned(),
            })?;
            if let Some(node) = nodes.iter().position(|(a, _)| *a == address) {
                return Err(HostfileError::Duplicate {
                    path: path.to_owned(),
                    line,
                    address,
                    node: node as u32,
                    first_line: nodes[node].1,
                });
            }
            nodes.push((address, line));
        }
        if nodes.is_empty() {
            return Err(HostfileError::Empty { path: path.to_owned() });
        }
        Ok(Hostfile { path: path.to_owned(), nodes })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Node addresses, by node id.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.nodes.iter().map(|(a, _)| *a)
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether it lists no node (never true for a loaded hostfile).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node id of `address`, if it is listed.
    pub fn node_of(&self, address: IpAddr) -> Option<u32> {
        self.nodes.iter().position(|(a, _)| *a == address).map(|i| i as u32)
    }

    /// The line `address` is on, if it is listed.
    pub fn line_of(&self, address: IpAddr) -> Option<usize> {
        self.nodes.iter().find(|(a, _)| *a == address).map(|(_, l)| *l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Hostfile, HostfileError> {
        Hostfile::parse(Path::new("/etc/chimaera/hostfile"), text)
    }

    #[test]
    fn the_guide_s_hostfile_and_comments() {
        let h = parse("172.20.0.10\n172.20.0.11\n172.20.0.12\n").unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h.node_of("172.20.0.12".parse().unwrap()), Some(2));
        let h = parse("# cluster\n\n127.0.0.1   # node 0\n  127.0.0.2\n\n::1\n").unwrap();
        assert_eq!(
            h.addresses().map(|a| a.to_string()).collect::<Vec<_>>(),
            ["127.0.0.1", "127.0.0.2", "::1"]
        );
        assert_eq!(h.line_of("127.0.0.2".parse().unwrap()), Some(4));
    }

    #[test]
    fn bad_lines_duplicates_and_empty_files_name_the_line() {
        assert_eq!(
            parse("10.0.0.1\n10.0.0.x\n").unwrap_err().to_string(),
            "hostfile /etc/chimaera/hostfile: line 2: `10.0.0.x` is not an IP address (one address per line; # starts a comment)"
        );
        assert_eq!(
            parse("10.0.0.1\n10.0.0.2\n\n10.0.0.1\n").unwrap_err().to_string(),
            "hostfile /etc/chimaera/hostfile: line 4: 10.0.0.1 is already node 0 (line 1); each node once"
        );
        assert_eq!(
            parse("# nothing\n\n").unwrap_err().to_string(),
            "hostfile /etc/chimaera/hostfile: no addresses in it"
        );
        assert!(matches!(
            Hostfile::load(Path::new("/no/such/hostfile")),
            Err(HostfileError::Unreadable { .. })
        ));
    }
}
