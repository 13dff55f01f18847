//! Reading the values of keepalived keywords: numbers, decimal seconds, weights, command lines,
//! each refused with the location of the offending word.

use std::time::Duration;

use super::parse::{Stmt, Word, error_at};
use super::{ConvertError, Diagnostics};

/// The `n`-th argument of a statement.
pub(crate) fn arg(s: &Stmt, n: usize) -> Result<&Word, ConvertError> {
    s.args.get(n).ok_or_else(|| {
        let at = s.args.last().map_or(&s.key.loc, |w| &w.loc);
        error_at(at, format!("{}: missing value", s.key.text))
    })
}

/// Refuse a `{ }` block after a keyword that takes none.
pub(crate) fn no_block(s: &Stmt) -> Result<(), ConvertError> {
    match s.block {
        Some(_) => Err(error_at(
            &s.key.loc,
            format!("{}: takes no {{ }} block", s.key.text),
        )),
        None => Ok(()),
    }
}

/// The block of a keyword that needs one.
pub(crate) fn block(s: &Stmt) -> Result<&[Stmt], ConvertError> {
    s.block.as_deref().ok_or_else(|| {
        error_at(
            &s.key.loc,
            format!("{}: expected a {{ }} block", s.key.text),
        )
    })
}

/// Warn about the words from index `from` on, which the keyword does not use.
pub(crate) fn extra(s: &Stmt, from: usize, diag: &mut Diagnostics) {
    if let Some(w) = s.args.get(from) {
        diag.warn(
            &w.loc,
            &s.key.text,
            format!("extra words from {:?} on ignored", w.text),
        );
    }
}

/// The single value of a scalar keyword (extra words: a warning; a block: an error).
pub(crate) fn value<'a>(s: &'a Stmt, diag: &mut Diagnostics) -> Result<&'a Word, ConvertError> {
    no_block(s)?;
    extra(s, 1, diag);
    arg(s, 0)
}

/// A keyword without value (extra words: a warning; a block: an error).
pub(crate) fn flag(s: &Stmt, diag: &mut Diagnostics) -> Result<(), ConvertError> {
    no_block(s)?;
    extra(s, 0, diag);
    Ok(())
}

/// An optional on/off value (`KEYWORD`, `KEYWORD true`, `KEYWORD off`, ...): true when absent.
pub(crate) fn switch(s: &Stmt, diag: &mut Diagnostics) -> Result<bool, ConvertError> {
    no_block(s)?;
    extra(s, 1, diag);
    match s.args.first().map(|w| (w, w.text.to_ascii_lowercase())) {
        None => Ok(true),
        Some((_, v)) if ["on", "true", "yes"].contains(&v.as_str()) => Ok(true),
        Some((_, v)) if ["off", "false", "no"].contains(&v.as_str()) => Ok(false),
        Some((w, _)) => Err(error_at(
            &w.loc,
            format!("{}: {:?} is not true or false", s.key.text, w.text),
        )),
    }
}

/// An integer in `min..=max`.
pub(crate) fn int<T: TryFrom<i64>>(
    w: &Word,
    what: &str,
    min: i64,
    max: i64,
) -> Result<T, ConvertError> {
    let range = || error_at(&w.loc, format!("{what}: {} is not in {min}..{max}", w.text));
    match w.text.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => T::try_from(n).map_err(|_| range()),
        Ok(_) => Err(range()),
        Err(_) => Err(error_at(
            &w.loc,
            format!("{what}: {:?} is not a number", w.text),
        )),
    }
}

/// Decimal seconds (`1`, `0.1`, `4.12`) in `min..=max`.
pub(crate) fn secs(
    w: &Word,
    what: &str,
    min: Duration,
    max: Duration,
) -> Result<Duration, ConvertError> {
    let d = parse_secs(&w.text).ok_or_else(|| {
        error_at(
            &w.loc,
            format!("{what}: {:?} is not a number of seconds", w.text),
        )
    })?;
    if d < min || d > max {
        return Err(error_at(
            &w.loc,
            format!(
                "{what}: {} is not in {}..{} seconds",
                w.text,
                min.as_secs_f64(),
                max.as_secs_f64()
            ),
        ));
    }
    Ok(d)
}

fn parse_secs(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if (whole.is_empty() && frac.is_empty())
        || !whole
            .chars()
            .chain(frac.chars())
            .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos = 0u32;
    let mut place = 100_000_000u32;
    for d in frac.chars().take(9) {
        nanos += d.to_digit(10)? * place;
        place /= 10;
    }
    Some(Duration::new(secs, nanos))
}

/// A `weight N [reverse|noreverse]` tail starting at argument `from` of a reference (`eth0
/// weight 5`): the weight if given.
pub(crate) fn weight(
    s: &Stmt,
    from: usize,
    min: i64,
    max: i64,
    diag: &mut Diagnostics,
) -> Result<Option<i32>, ConvertError> {
    let Some(first) = s.args.get(from) else {
        return Ok(None);
    };
    if first.text != "weight" {
        diag.warn(
            &first.loc,
            &s.key.text,
            format!("unknown option {:?}; ignored", first.text),
        );
        return Ok(None);
    }
    weight_value(s, from + 1, min, max, diag).map(Some)
}

/// `N [reverse|noreverse]` from argument `from` on: the weight. `reverse` cannot be expressed
/// and gets a warning.
pub(crate) fn weight_value(
    s: &Stmt,
    from: usize,
    min: i64,
    max: i64,
    diag: &mut Diagnostics,
) -> Result<i32, ConvertError> {
    let w = int(arg(s, from)?, "weight", min, max)?;
    for word in s.args.iter().skip(from + 1) {
        match word.text.as_str() {
            "noreverse" | "no_reverse" => {}
            "reverse" => diag.warn(
                &word.loc,
                "reverse",
                "reversed weights have no equivalent; the weight is used as is, so the priority moves the other way than in keepalived",
            ),
            other => diag.warn(
                &word.loc,
                &s.key.text,
                format!("unknown option {other:?}; ignored"),
            ),
        }
    }
    Ok(w)
}

/// Split a command line as keepalived splits `script`: on white space, with single and double
/// quotes and backslash escapes.
pub(crate) fn split_command(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (_, '\\') => {
                cur.push(chars.next().ok_or("a backslash ends the command")?);
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unterminated {q} quote"));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds() {
        assert_eq!(parse_secs("1"), Some(Duration::from_secs(1)));
        assert_eq!(parse_secs("0.1"), Some(Duration::from_millis(100)));
        assert_eq!(parse_secs("4.12"), Some(Duration::from_millis(4120)));
        assert_eq!(parse_secs(".5"), Some(Duration::from_millis(500)));
        for bad in [
            "",
            ".",
            "-1",
            "1e3",
            "x",
            "1.2.3",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_secs(bad), None, "{bad}");
        }
    }

    #[test]
    fn commands() {
        assert_eq!(split_command("/bin/x").unwrap(), ["/bin/x"]);
        assert_eq!(
            split_command(" /bin/sh  -c 'test -f /x' \"a b\" c\\ d").unwrap(),
            ["/bin/sh", "-c", "test -f /x", "a b", "c d"]
        );
        assert_eq!(split_command("''").unwrap(), [""]);
        assert!(split_command("'a").is_err());
        assert!(split_command("a\\").is_err());
    }
}
