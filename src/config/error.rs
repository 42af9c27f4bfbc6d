//! The one error type of the loader: always one line, always starting with
//! `config <path>:`, so that every command can print it as is and exit 2.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct ConfigError {
    path: PathBuf,
    problem: Problem,
}

#[derive(Debug)]
enum Problem {
    NotFound {
        hint: &'static str,
    },
    Read(std::io::Error),
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    Invalid {
        key: String,
        message: String,
        line: Option<usize>,
    },
}

impl ConfigError {
    pub(crate) fn not_found(path: &Path, hint: &'static str) -> ConfigError {
        ConfigError {
            path: path.to_owned(),
            problem: Problem::NotFound { hint },
        }
    }

    pub(crate) fn read(path: &Path, err: std::io::Error) -> ConfigError {
        ConfigError {
            path: path.to_owned(),
            problem: Problem::Read(err),
        }
    }

    pub(crate) fn syntax(path: &Path, line: usize, column: usize, message: &str) -> ConfigError {
        ConfigError {
            path: path.to_owned(),
            problem: Problem::Syntax {
                line,
                column,
                message: one_line(message),
            },
        }
    }

    /// `key` is the dotted location (`matching.warninglists`,
    /// `sources[1] (misp)`); empty for the top level.
    pub(crate) fn invalid(
        path: &Path,
        key: impl Into<String>,
        message: impl Into<String>,
        line: Option<usize>,
    ) -> ConfigError {
        ConfigError {
            path: path.to_owned(),
            problem: Problem::Invalid {
                key: key.into(),
                message: one_line(&message.into()),
                line,
            },
        }
    }

    /// The config file the error is about.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key at fault, for invalid values and unknown keys.
    pub fn key(&self) -> Option<&str> {
        match &self.problem {
            Problem::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The 1-based line in the file, when known.
    pub fn line(&self) -> Option<usize> {
        match &self.problem {
            Problem::Syntax { line, .. } => Some(*line),
            Problem::Invalid { line, .. } => *line,
            _ => None,
        }
    }

    /// True when the file does not exist (as opposed to being unreadable or wrong).
    pub fn is_not_found(&self) -> bool {
        matches!(self.problem, Problem::NotFound { .. })
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config {}: ", self.path.display())?;
        match &self.problem {
            Problem::NotFound { hint } => write!(f, "file not found{hint}"),
            Problem::Read(err) if err.kind() == std::io::ErrorKind::PermissionDenied => write!(
                f,
                "cannot read it ({err}); make it readable by the user running intelmatch \
                 (for integrate: group wazuh, mode 0640)"
            ),
            Problem::Read(err) => write!(f, "cannot read it ({err})"),
            Problem::Syntax {
                line,
                column,
                message,
            } => write!(
                f,
                "TOML syntax error at line {line}, column {column}: {message}"
            ),
            Problem::Invalid { key, message, line } => {
                if !key.is_empty() {
                    write!(f, "{key}: ")?;
                }
                f.write_str(message)?;
                if let Some(line) = line {
                    write!(f, " (line {line})")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            Problem::Read(err) => Some(err),
            _ => None,
        }
    }
}
