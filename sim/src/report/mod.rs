//! Rendering the result model for people and machines. Reports read only
//! [`crate::result`]; they compute nothing of their own.

pub mod text;

use crate::result::RunResult;

/// The JSON contract: pretty-printed, keys in a fixed order, ending in a newline.
pub fn json(result: &RunResult) -> String {
    let mut text =
        serde_json::to_string_pretty(result).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
