//! The environment variables green reads (`GREEN_STACK_SIZE`,
//! `GREEN_BLOCKING_THREADS`, `GREEN_MAX_BLOCKING_TIME`): a value that is
//! not a number is a clear panic naming the variable, never a silent
//! default.

/// The variable `name` as a number of `what` no smaller than `min`, or
/// `None` when it is not set (or empty).
///
/// # Panics
///
/// If it is set to anything else: a misspelt setting must not pass
/// unnoticed.
pub(crate) fn number(name: &str, what: &str, min: usize) -> Option<usize> {
    let value = std::env::var_os(name)?;
    let text = value.to_str().map(str::trim);
    if text == Some("") {
        return None;
    }
    match text.and_then(|t| t.parse::<usize>().ok()) {
        Some(n) if n >= min => Some(n),
        _ => {
            let least = if min == 0 {
                String::new()
            } else {
                format!(", at least {min}")
            };
            panic!(
                "green: the environment variable {name}={value:?} is not a number of {what} \
                 (a whole number{least})"
            )
        }
    }
}
