//! The error a module returns from a handler.

use std::fmt;

/// A module's error: a message the runtime passes on to whoever asked.
///
/// ```
/// use chimod_sdk::ModError;
/// fn check(depth: u32) -> Result<(), ModError> {
///     if depth == 0 {
///         return Err(ModError::new("io_depth must be at least 1"));
///     }
///     Ok(())
/// }
/// assert_eq!(check(0).unwrap_err().to_string(), "io_depth must be at least 1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModError {
    message: String,
}

impl ModError {
    /// An error with this message.
    ///
    /// ```
    /// assert_eq!(chimod_sdk::ModError::new("full").message(), "full");
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        ModError { message: message.into() }
    }

    /// The message.
    ///
    /// ```
    /// let e: chimod_sdk::ModError = "bad block".into();
    /// assert_eq!(e.message(), "bad block");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ModError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ModError {}

impl From<String> for ModError {
    fn from(message: String) -> Self {
        ModError { message }
    }
}

impl From<&str> for ModError {
    fn from(message: &str) -> Self {
        ModError::new(message)
    }
}

impl From<std::io::Error> for ModError {
    fn from(e: std::io::Error) -> Self {
        ModError::new(e.to_string())
    }
}

impl From<crate::codec::CodecError> for ModError {
    fn from(e: crate::codec::CodecError) -> Self {
        ModError::new(e.to_string())
    }
}
