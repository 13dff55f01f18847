//! keepalived's configuration grammar as keepalived 2.2.7 reads it (lib/parser.c): lines of
//! words; `{` and `}` are words of their own wherever they appear outside double quotes; `#` and
//! `!` start a comment anywhere outside double quotes (`\#` and `\!` escape them); a double-quoted
//! string is one word, without escapes; `include PATTERN` on a line of its own reads the files
//! the glob matches, relative to the including file; `@ID` lines are read only by a keepalived
//! started with `--config-id ID` (`@^ID`: only without it).
//!
//! The result is a tree of statements (a keyword, its arguments on the same line, and the
//! `{ }` block that follows it on the same or the next line), each word with its location.
//! What the keywords mean is not known here.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::{ConvertError, Diagnostics, glob};

/// Nesting depth of `{ }` blocks beyond which a file is refused.
const MAX_DEPTH: usize = 32;
/// Depth of nested includes beyond which a file is refused.
const MAX_INCLUDE_DEPTH: usize = 16;
/// Largest file read.
const MAX_FILE_BYTES: u64 = 16 << 20;
/// Most lines read, includes counted (a file included many times over is refused).
const MAX_LINES: usize = 1_000_000;

/// Where a word is: file, 1-based line and column (counted in characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Loc {
    /// The file, as named by the caller or by the `include` that read it.
    pub file: Rc<Path>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

/// A word of the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Word {
    /// The text, without quotes.
    pub text: String,
    /// Whether it was written in double quotes.
    pub quoted: bool,
    /// Where it starts.
    pub loc: Loc,
}

/// A keyword with its arguments and its block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stmt {
    /// The first word.
    pub key: Word,
    /// The other words of the line, up to a `{`, a `}` or the end of the line.
    pub args: Vec<Word>,
    /// The `{ }` block that follows, if any.
    pub block: Option<Vec<Stmt>>,
}

/// A located error.
pub(crate) fn error_at(loc: &Loc, message: impl Into<String>) -> ConvertError {
    ConvertError::Parse {
        file: loc.file.to_path_buf(),
        line: loc.line,
        column: loc.col,
        message: message.into(),
    }
}

enum Tok {
    Word(Word),
    Open(Loc),
    Close(Loc),
}

/// Read and parse a file and everything it includes.
pub(crate) fn parse_file(path: &Path, diag: &mut Diagnostics) -> Result<Vec<Stmt>, ConvertError> {
    let text = read(path).map_err(|source| ConvertError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut lexer = Lexer {
        diag,
        reading: Vec::new(),
        lines: Vec::new(),
        read: 0,
    };
    lexer.file(path, canonical, &text)?;
    build(lexer.lines)
}

/// Parse text as if read from `path` (includes are resolved relative to it).
#[cfg(test)]
pub(crate) fn parse_str(
    path: &Path,
    text: &str,
    diag: &mut Diagnostics,
) -> Result<Vec<Stmt>, ConvertError> {
    let mut lexer = Lexer {
        diag,
        reading: Vec::new(),
        lines: Vec::new(),
        read: 0,
    };
    lexer.file(path, path.to_path_buf(), text)?;
    build(lexer.lines)
}

fn read(path: &Path) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other("larger than 16 MiB"));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

struct Lexer<'a> {
    diag: &'a mut Diagnostics,
    /// Canonical paths of the files being read (the include chain).
    reading: Vec<PathBuf>,
    /// Non-empty lines of tokens, includes spliced in.
    lines: Vec<Vec<Tok>>,
    /// Lines read so far.
    read: usize,
}

impl Lexer<'_> {
    fn file(&mut self, path: &Path, canonical: PathBuf, text: &str) -> Result<(), ConvertError> {
        let file: Rc<Path> = Rc::from(path);
        self.reading.push(canonical);
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            self.read += 1;
            if self.read > MAX_LINES {
                let at = Loc {
                    file: file.clone(),
                    line,
                    col: 1,
                };
                return Err(error_at(
                    &at,
                    format!("more than {MAX_LINES} lines to read, includes counted"),
                ));
            }
            if raw.trim_start().starts_with("include") {
                let toks = lex(raw, &file, line, false)?;
                if let [Tok::Word(kw), rest @ ..] = toks.as_slice()
                    && kw.text == "include"
                    && !kw.quoted
                {
                    match rest {
                        [Tok::Word(pattern)] => self.include(pattern)?,
                        _ => {
                            return Err(error_at(
                                &kw.loc,
                                "include: expected exactly one file name or glob",
                            ));
                        }
                    }
                    continue;
                }
            }
            let mut toks = lex(raw, &file, line, true)?;
            if let Some(Tok::Word(first)) = toks.first()
                && !first.quoted
            {
                let (text, loc) = (first.text.clone(), first.loc.clone());
                if let Some(id) = text.strip_prefix("@^") {
                    self.diag.warn(
                        &loc,
                        &text,
                        format!("conditional line kept, as keepalived does when not started with --config-id {id}"),
                    );
                    toks.remove(0);
                } else if let Some(id) = text.strip_prefix('@') {
                    self.diag.warn(
                        &loc,
                        &text,
                        format!("conditional line skipped: keepalived reads it only when started with --config-id {id}"),
                    );
                    continue;
                } else if text.starts_with('$') || text.starts_with('~') {
                    self.diag.warn(
                        &loc,
                        &text,
                        "parameter definitions and ~SEQ lines are not supported; line ignored",
                    );
                    continue;
                }
            }
            if !toks.is_empty() {
                self.lines.push(toks);
            }
        }
        self.reading.pop();
        Ok(())
    }

    fn include(&mut self, pattern: &Word) -> Result<(), ConvertError> {
        let at = &pattern.loc;
        let base = at.file.parent().unwrap_or(Path::new(""));
        let full = base.join(&pattern.text);
        let matches = glob::expand(&full);
        if matches.is_empty() {
            if glob::has_magic(&pattern.text) {
                self.diag
                    .warn(at, "include", format!("no file matches {}", full.display()));
                return Ok(());
            }
            return Err(error_at(
                at,
                format!("include: {}: no such file", full.display()),
            ));
        }
        for path in matches {
            let meta = std::fs::metadata(&path)
                .map_err(|e| error_at(at, format!("include: {}: {e}", path.display())))?;
            if meta.is_dir() {
                continue; // keepalived skips directories a glob matches
            }
            if !meta.is_file() || meta.permissions().mode() & 0o111 != 0 {
                self.diag.warn(
                    at,
                    "include",
                    format!(
                        "{} is not a regular non-executable file; keepalived skips it too",
                        path.display()
                    ),
                );
                continue;
            }
            let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if self.reading.contains(&canonical) {
                let chain: Vec<String> = self
                    .reading
                    .iter()
                    .chain(std::iter::once(&canonical))
                    .map(|p| p.display().to_string())
                    .collect();
                return Err(error_at(
                    at,
                    format!("include loop: {}", chain.join(" -> ")),
                ));
            }
            if self.reading.len() >= MAX_INCLUDE_DEPTH {
                return Err(error_at(
                    at,
                    format!("include: nested more than {MAX_INCLUDE_DEPTH} files deep"),
                ));
            }
            let text = read(&path)
                .map_err(|e| error_at(at, format!("include: {}: {e}", path.display())))?;
            self.file(&path, canonical, &text)?;
        }
        Ok(())
    }
}

/// Split one line into words and braces (braces are plain characters when `braces` is false,
/// as for an `include` line, whose glob may hold `{a,b}`).
fn lex(raw: &str, file: &Rc<Path>, line: usize, braces: bool) -> Result<Vec<Tok>, ConvertError> {
    let chars: Vec<char> = raw.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let loc = Loc {
            file: file.clone(),
            line,
            col: i + 1,
        };
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' || c == '!' {
            break;
        } else if braces && c == '{' {
            toks.push(Tok::Open(loc));
            i += 1;
        } else if braces && c == '}' {
            toks.push(Tok::Close(loc));
            i += 1;
        } else if c == '"' {
            let rest = chars.get(i + 1..).unwrap_or_default();
            let Some(len) = rest.iter().position(|&q| q == '"') else {
                return Err(error_at(&loc, "unterminated quoted string"));
            };
            let text = rest.iter().take(len).collect();
            toks.push(Tok::Word(Word {
                text,
                quoted: true,
                loc,
            }));
            i += len + 2;
        } else {
            let mut text = String::new();
            while let Some(&c) = chars.get(i) {
                if c.is_whitespace()
                    || matches!(c, '"' | '#' | '!')
                    || (braces && matches!(c, '{' | '}'))
                {
                    break;
                }
                if c == '\\'
                    && let Some(&escaped @ ('#' | '!')) = chars.get(i + 1)
                {
                    text.push(escaped);
                    i += 2;
                    continue;
                }
                text.push(c);
                i += 1;
            }
            toks.push(Tok::Word(Word {
                text,
                quoted: false,
                loc,
            }));
        }
    }
    Ok(toks)
}

/// The statements of the current block (the innermost open one, or the top level).
fn level<'a>(root: &'a mut Vec<Stmt>, open: &'a mut [(Vec<Stmt>, Loc)]) -> &'a mut Vec<Stmt> {
    match open.last_mut() {
        Some((stmts, _)) => stmts,
        None => root,
    }
}

/// Group lines of tokens into statements and blocks.
fn build(lines: Vec<Vec<Tok>>) -> Result<Vec<Stmt>, ConvertError> {
    let mut root = Vec::new();
    let mut open: Vec<(Vec<Stmt>, Loc)> = Vec::new();
    for toks in lines {
        let mut current: Option<Stmt> = None;
        for (index, tok) in toks.into_iter().enumerate() {
            match tok {
                Tok::Word(w) => match &mut current {
                    Some(stmt) => stmt.args.push(w),
                    None => {
                        current = Some(Stmt {
                            key: w,
                            args: Vec::new(),
                            block: None,
                        })
                    }
                },
                Tok::Open(loc) => {
                    let stmts = level(&mut root, &mut open);
                    // The block belongs to the statement just read on this line or, when the
                    // `{` starts a line, to the statement of the line before.
                    let attached = match current.take() {
                        Some(stmt) => {
                            stmts.push(stmt);
                            true
                        }
                        None => index == 0 && stmts.last().is_some_and(|s| s.block.is_none()),
                    };
                    if !attached {
                        return Err(error_at(&loc, "unexpected '{': no keyword before it"));
                    }
                    if open.len() >= MAX_DEPTH {
                        return Err(error_at(
                            &loc,
                            format!("blocks nested more than {MAX_DEPTH} deep"),
                        ));
                    }
                    open.push((Vec::new(), loc));
                }
                Tok::Close(loc) => {
                    if let Some(stmt) = current.take() {
                        level(&mut root, &mut open).push(stmt);
                    }
                    let Some((children, _)) = open.pop() else {
                        return Err(error_at(&loc, "unbalanced '}': no block is open"));
                    };
                    match level(&mut root, &mut open).last_mut() {
                        Some(parent) => parent.block = Some(children),
                        None => return Err(error_at(&loc, "unbalanced '}': no block is open")),
                    }
                }
            }
        }
        if let Some(stmt) = current {
            level(&mut root, &mut open).push(stmt);
        }
    }
    if let Some((_, loc)) = open.last() {
        return Err(error_at(loc, "unbalanced '{': this block is never closed"));
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Stmt>, ConvertError> {
        parse_str(Path::new("k.conf"), text, &mut Diagnostics::default())
    }

    fn keys(stmts: &[Stmt]) -> Vec<String> {
        stmts.iter().map(|s| s.key.text.clone()).collect()
    }

    #[test]
    fn blocks_comments_quotes() {
        let t = parse("a 1 2 # c\n! all comment\nb \"x y\"!z\nc\n{\n d {e}\n f }\ng 12#34 \\#5\n")
            .unwrap();
        assert_eq!(keys(&t), ["a", "b", "c", "g"]);
        assert_eq!(t[0].args.len(), 2);
        assert_eq!(t[1].args[0].text, "x y");
        assert!(t[1].args[0].quoted);
        let c = t[2].block.as_ref().unwrap();
        assert_eq!(keys(c), ["d", "f"]);
        assert_eq!(keys(c[0].block.as_ref().unwrap()), ["e"]);
        assert_eq!(
            t[3].args
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>(),
            ["12"]
        );
        assert_eq!((t[3].key.loc.line, t[3].key.loc.col), (8, 1));
        let t = parse("h \\#5 x\\!y").unwrap();
        assert_eq!(t[0].args[0].text, "#5");
        assert_eq!(t[0].args[1].text, "x!y");
    }

    #[test]
    fn located_errors() {
        let e = parse("a {\n b {\n }\n").unwrap_err().to_string();
        assert_eq!(
            e,
            "k.conf:1:3: error: unbalanced '{': this block is never closed"
        );
        let e = parse("a {\n}\n  }\n").unwrap_err().to_string();
        assert_eq!(e, "k.conf:3:3: error: unbalanced '}': no block is open");
        let e = parse("{\n").unwrap_err().to_string();
        assert_eq!(e, "k.conf:1:1: error: unexpected '{': no keyword before it");
        let e = parse("a \"b\n").unwrap_err().to_string();
        assert_eq!(e, "k.conf:1:3: error: unterminated quoted string");
        let deep = "a {".repeat(40);
        assert!(parse(&deep).unwrap_err().to_string().contains("nested"));
    }

    #[test]
    fn conditional_lines() {
        let mut diag = Diagnostics::default();
        let t = parse_str(Path::new("k.conf"), "@a x 1\n@^a y 2\n$P=3\nz\n", &mut diag).unwrap();
        assert_eq!(keys(&t), ["y", "z"]);
        assert_eq!(diag.warnings.len(), 3);
    }
}
