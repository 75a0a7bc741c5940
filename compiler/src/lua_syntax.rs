//! Lua 5.4 checked as `luac -p` checks it, for raw `prosody { }` blocks: the grammar in
//! `grammar/lua.pest`, then what luac refuses beyond the grammar: a statement that is neither a call
//! nor an assignment, a target that cannot be assigned, a `const` variable assigned, an unknown
//! attribute or two to-be-closed variables in one list, `break` outside a loop, a `goto` with no
//! visible label, a label defined twice, `...` outside a vararg function, and escapes out of range.
//! Nesting is bounded first, in one linear pass, so that parsing never recurses past
//! [`crate::syntax::MAX_NESTING`] levels, natively as in the sandbox.

use pest::Parser as _;
use pest::error::InputLocation;
use pest::iterators::Pair;

use crate::syntax::MAX_NESTING;

#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/lua.pest"]
pub(crate) struct Grammar;

/// Why a text is not Lua: the byte offset where luac would stop, and its complaint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LuaError {
    pub offset: usize,
    pub message: String,
}

/// Checks `text` as a whole Lua chunk (a config file).
pub fn check(text: &str) -> Result<(), LuaError> {
    check_chunk(text, true)
}

/// Checks `text` as statements spliced into a longer chunk: as [`check`], but a `return` at its top
/// level, which must end a chunk, is refused.
pub fn check_statements(text: &str) -> Result<(), LuaError> {
    check_chunk(text, false)
}

fn check_chunk(text: &str, may_return: bool) -> Result<(), LuaError> {
    scan(text)?;
    let chunk = Grammar::parse(Rule::chunk, text).map_err(|e| syntax_error(text, &e))?.next();
    let Some(block) = chunk.and_then(|c| c.into_inner().next()) else { return Ok(()) };
    if !may_return && let Some(ret) = block.clone().into_inner().find(|p| p.as_rule() == Rule::retstat) {
        return Err(LuaError {
            offset: ret.as_span().start(),
            message: "`return` would end the config here; it may only close a function".to_string(),
        });
    }
    let mut walk = Walk { functions: Vec::new() };
    walk.function(true, &[], |w| w.block(block, false))
}

/// The names `text` (Lua statements) assigns before its first statement that is not an assignment
/// (a section line such as `VirtualHost "x"`, or any code), where they surely set global options;
/// without those whose new value reads the name (`x = x .. "y"` needs the earlier value).
pub fn leading_assignments(text: &str) -> Vec<String> {
    let Ok(mut chunk) = Grammar::parse(Rule::chunk, text) else { return Vec::new() };
    let Some(block) = chunk.next().and_then(|c| c.into_inner().next()) else { return Vec::new() };
    let mut names = Vec::new();
    for stat in block.into_inner() {
        let mut parts = stat.clone().into_inner();
        let (Rule::expr_stat, Some(first), Some(tail)) = (stat.as_rule(), parts.next(), parts.next()) else {
            if stat.as_rule() == Rule::empty {
                continue;
            }
            break;
        };
        let values = tail.clone().into_inner().filter(|p| p.as_rule() == Rule::explist);
        let reads = |name: &str| {
            values
                .clone()
                .flat_map(|v| v.into_inner().flatten())
                .any(|p| p.as_rule() == Rule::name && p.as_str() == name)
        };
        let targets =
            std::iter::once(first).chain(tail.clone().into_inner().filter(|p| p.as_rule() == Rule::suffixedexp));
        for target in targets {
            let mut inner = target.into_inner();
            if let (Some(primary), None) = (inner.next(), inner.next())
                && let Some(name) = primary.into_inner().next().filter(|n| n.as_rule() == Rule::name)
                && !reads(name.as_str())
            {
                names.push(name.as_str().to_string());
            }
        }
    }
    names
}

fn syntax_error(text: &str, e: &pest::error::Error<Rule>) -> LuaError {
    let offset = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    if offset > 0 && text.as_bytes().get(offset - 1) == Some(&b'\\') {
        let escape: String = text[offset..].chars().next().map(|c| c.escape_debug().to_string()).unwrap_or_default();
        return LuaError { offset: offset - 1, message: format!("invalid escape sequence `\\{escape}`") };
    }
    let rest = &text[offset.min(text.len())..];
    let near = match rest.chars().next() {
        None => "the end of the block".to_string(),
        Some(c) if c.is_ascii_alphanumeric() || c == '_' => {
            let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            format!("`{word}`")
        }
        Some(c) => format!("`{}`", c.escape_debug()),
    };
    let looks_like_number = rest.starts_with(|c: char| c.is_ascii_digit())
        || (rest.starts_with('.') && rest[1..].starts_with(|c: char| c.is_ascii_digit()));
    let message = if looks_like_number {
        let run: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_')).collect();
        format!("malformed number near `{run}`")
    } else if rest.starts_with('\\') || rest.starts_with(['"', '\'']) {
        format!("unfinished string or invalid escape near {near}")
    } else {
        format!("unexpected symbol near {near}")
    };
    LuaError { offset, message }
}

/// One linear pass before parsing: strings and long brackets must close, and nesting stays within the
/// bound, counting what opens a level in Lua: brackets, and `function`, `do`, `if`, `repeat` (closed by
/// `end` or `until`).
fn scan(text: &str) -> Result<(), LuaError> {
    let b = text.as_bytes();
    let (mut i, mut depth) = (0, 0usize);
    let error = |offset, message: &str| Err(LuaError { offset, message: message.to_string() });
    let open = |depth: &mut usize, at: usize| {
        *depth += 1;
        if *depth > MAX_NESTING { error(at, &format!("nests deeper than {MAX_NESTING} levels")) } else { Ok(()) }
    };
    while i < b.len() {
        match b[i] {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = match long_bracket_end(b, i + 2) {
                    Some(None) => return error(i, "unfinished long comment"),
                    Some(Some(end)) => end,
                    None => b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |n| i + n),
                };
                continue;
            }
            b'[' if long_bracket_end(b, i).is_some() => {
                match long_bracket_end(b, i) {
                    Some(Some(end)) => i = end,
                    _ => return error(i, "unfinished long string"),
                }
                continue;
            }
            q @ (b'"' | b'\'') => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != q {
                    match b[i] {
                        b'\n' | b'\r' => return error(start, "unfinished string"),
                        // `\` and a line break continue the string on the next line.
                        b'\\' if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') => i += 3,
                        // `\z` skips the blanks and line breaks that follow.
                        b'\\' if b.get(i + 1) == Some(&b'z') => {
                            i += 2;
                            while i < b.len() && b[i].is_ascii_whitespace() {
                                i += 1;
                            }
                        }
                        b'\\' => i += 2,
                        _ => i += 1,
                    }
                }
                if i >= b.len() {
                    return error(start, "unfinished string");
                }
            }
            b'(' | b'[' | b'{' => open(&mut depth, i)?,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                match &text[start..i] {
                    "function" | "do" | "if" | "repeat" => open(&mut depth, start)?,
                    "end" | "until" => depth = depth.saturating_sub(1),
                    _ => {}
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// If a long bracket (`[[`, `[==[`) opens at `i`: the offset just past its close, or `None` when it
/// never closes.
fn long_bracket_end(b: &[u8], i: usize) -> Option<Option<usize>> {
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let level = b[i + 1..].iter().take_while(|&&c| c == b'=').count();
    if b.get(i + 1 + level) != Some(&b'[') {
        return None;
    }
    let close: Vec<u8> = std::iter::once(b']').chain(std::iter::repeat_n(b'=', level)).chain([b']']).collect();
    let body = i + level + 2;
    Some(b[body..].windows(close.len()).position(|w| w == close.as_slice()).map(|n| body + n + close.len()))
}

/// What is in force while walking one function: whether `...` may be used, and its blocks, inner last.
struct Function<'a> {
    vararg: bool,
    blocks: Vec<Block<'a>>,
}

#[derive(Default)]
struct Block<'a> {
    is_loop: bool,
    labels: Vec<&'a str>,
    /// Local variables and whether each is `<const>` (or `<close>`, also read-only).
    locals: Vec<(&'a str, bool)>,
    /// `goto`s in this block or its inner blocks still looking for their label.
    gotos: Vec<(&'a str, usize)>,
}

struct Walk<'a> {
    functions: Vec<Function<'a>>,
}

type Checked = Result<(), LuaError>;

fn fail(p: &Pair<Rule>, message: String) -> Checked {
    Err(LuaError { offset: p.as_span().start(), message })
}

impl<'a> Walk<'a> {
    fn function(&mut self, vararg: bool, params: &[&'a str], body: impl FnOnce(&mut Self) -> Checked) -> Checked {
        let locals = params.iter().map(|p| (*p, false)).collect();
        self.functions.push(Function { vararg, blocks: vec![Block { locals, ..Block::default() }] });
        let result = body(self).and_then(|()| self.close_block());
        self.functions.pop();
        result
    }

    fn current(&mut self) -> &mut Function<'a> {
        self.functions.last_mut().expect("inside a function")
    }

    fn block(&mut self, p: Pair<'a, Rule>, is_loop: bool) -> Checked {
        self.current().blocks.push(Block { is_loop, ..Block::default() });
        for stat in p.into_inner() {
            self.statement(stat)?;
        }
        self.close_block()
    }

    /// Ends the innermost block: its `goto`s find a label here or move out to the enclosing block;
    /// at a function's end none may be left.
    fn close_block(&mut self) -> Checked {
        let f = self.current();
        let Some(block) = f.blocks.pop() else { return Ok(()) };
        let open: Vec<(&str, usize)> = block.gotos.into_iter().filter(|(l, _)| !block.labels.contains(l)).collect();
        match (f.blocks.last_mut(), open.first()) {
            (Some(outer), _) => outer.gotos.extend(open),
            (None, Some((label, offset))) => {
                return Err(LuaError { offset: *offset, message: format!("no visible label `{label}` for `goto`") });
            }
            (None, None) => {}
        }
        Ok(())
    }

    fn statement(&mut self, p: Pair<'a, Rule>) -> Checked {
        match p.as_rule() {
            Rule::label => {
                let name = p.clone().into_inner().next().map_or("", |n| n.as_str());
                let f = self.current();
                if f.blocks.iter().any(|b| b.labels.contains(&name)) {
                    return fail(&p, format!("label `{name}` already defined"));
                }
                if let Some(b) = f.blocks.last_mut() {
                    b.labels.push(name);
                }
                Ok(())
            }
            Rule::break_stat => {
                if self.current().blocks.iter().any(|b| b.is_loop) {
                    Ok(())
                } else {
                    fail(&p, "`break` outside a loop".to_string())
                }
            }
            Rule::goto_stat => {
                let name = p.clone().into_inner().nth(1).map_or("", |n| n.as_str());
                if let Some(b) = self.current().blocks.last_mut() {
                    b.gotos.push((name, p.as_span().start()));
                }
                Ok(())
            }
            Rule::local_stat => self.local(p),
            Rule::local_function => {
                let mut it = p.into_inner().skip(2);
                if let Some(name) = it.next() {
                    self.declare(name.as_str(), false);
                }
                it.try_for_each(|x| self.expression(x))
            }
            Rule::for_num | Rule::for_in => {
                let mut names = Vec::new();
                for x in p.into_inner() {
                    match x.as_rule() {
                        Rule::name => names.push(x.as_str()),
                        Rule::loop_block => {
                            // The loop's variables live in its body's scope.
                            self.current().blocks.push(Block { is_loop: true, ..Block::default() });
                            for n in &names {
                                self.declare(n, false);
                            }
                            let inner = x.into_inner().next();
                            let result = inner.map_or(Ok(()), |b| self.block(b, false));
                            result.and_then(|()| self.close_block())?;
                        }
                        _ => self.expression(x)?,
                    }
                }
                Ok(())
            }
            Rule::expr_stat => self.expr_stat(p),
            Rule::function_stat => {
                let names: Vec<Pair<Rule>> = p.clone().into_inner().filter(|x| x.as_rule() == Rule::name).collect();
                if let [only] = names.as_slice()
                    && self.read_only(only.as_str())
                {
                    return fail(only, format!("attempt to assign to const variable `{}`", only.as_str()));
                }
                p.into_inner().try_for_each(|x| self.expression(x))
            }
            _ => p.into_inner().try_for_each(|x| self.expression(x)),
        }
    }

    fn local(&mut self, p: Pair<'a, Rule>) -> Checked {
        let mut names = Vec::new();
        let mut closes = 0;
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::attname => {
                    let mut it = x.clone().into_inner();
                    let name = it.next().map_or("", |n| n.as_str());
                    let attribute = it.next();
                    match attribute.as_ref().map(Pair::as_str) {
                        None => names.push((name, false)),
                        Some("const") => names.push((name, true)),
                        Some("close") => {
                            closes += 1;
                            if closes > 1 {
                                return fail(&x, "multiple to-be-closed variables in local list".to_string());
                            }
                            names.push((name, true));
                        }
                        Some(other) => return fail(&x, format!("unknown attribute `{other}`")),
                    }
                }
                _ => self.expression(x)?,
            }
        }
        for (name, read_only) in names {
            self.declare(name, read_only);
        }
        Ok(())
    }

    fn declare(&mut self, name: &'a str, read_only: bool) {
        if let Some(b) = self.current().blocks.last_mut() {
            b.locals.push((name, read_only));
        }
    }

    /// Whether `name` is a local declared `<const>` or `<close>`, here or in an enclosing function.
    fn read_only(&self, name: &str) -> bool {
        let scopes = self.functions.iter().rev().flat_map(|f| f.blocks.iter().rev());
        scopes.flat_map(|b| b.locals.iter().rev()).find(|(n, _)| *n == name).is_some_and(|(_, ro)| *ro)
    }

    /// A call or an assignment: a call must end the expression alone; every target of an assignment
    /// must end in a name, a field or an index.
    fn expr_stat(&mut self, p: Pair<'a, Rule>) -> Checked {
        let mut it = p.clone().into_inner();
        let Some(first) = it.next() else { return Ok(()) };
        match it.next() {
            None => {
                let last = first.clone().into_inner().last().map(|x| x.as_rule());
                if !matches!(last, Some(Rule::call | Rule::method_call)) {
                    return fail(&first, "syntax error: a statement must be a call or an assignment".to_string());
                }
                self.expression(first)
            }
            Some(tail) => {
                let mut targets = vec![first];
                let mut values = Vec::new();
                for x in tail.into_inner() {
                    match x.as_rule() {
                        Rule::suffixedexp => targets.push(x),
                        _ => values.push(x),
                    }
                }
                for t in &targets {
                    let parts: Vec<Pair<Rule>> = t.clone().into_inner().collect();
                    let assignable = match parts.as_slice() {
                        [primary] => primary.clone().into_inner().next().is_some_and(|x| x.as_rule() == Rule::name),
                        [.., last] => matches!(last.as_rule(), Rule::field | Rule::index),
                        [] => false,
                    };
                    if !assignable {
                        return fail(t, "syntax error: only a name, a field or an index can be assigned".to_string());
                    }
                    if parts.len() == 1 && self.read_only(t.as_str().trim()) {
                        return fail(t, format!("attempt to assign to const variable `{}`", t.as_str().trim()));
                    }
                }
                values.into_iter().chain(targets).try_for_each(|x| self.expression(x))
            }
        }
    }

    fn expression(&mut self, p: Pair<'a, Rule>) -> Checked {
        match p.as_rule() {
            Rule::vararg => {
                if self.current().vararg {
                    Ok(())
                } else {
                    fail(&p, "cannot use `...` outside a vararg function".to_string())
                }
            }
            Rule::funcbody => {
                let mut params = Vec::new();
                let mut vararg = false;
                let mut body = None;
                for x in p.into_inner() {
                    match x.as_rule() {
                        Rule::params => {
                            for q in x.into_inner() {
                                match q.as_rule() {
                                    Rule::vararg => vararg = true,
                                    _ => params.push(q.as_str()),
                                }
                            }
                        }
                        Rule::block => body = Some(x),
                        _ => {}
                    }
                }
                let body = body.into_iter();
                self.function(vararg, &params, |w| body.into_iter().try_for_each(|b| w.block(b, false)))
            }
            Rule::block => self.block(p, false),
            Rule::loop_block => match p.into_inner().next() {
                Some(b) => self.block(b, true),
                None => Ok(()),
            },
            Rule::decimal_escape if p.as_str().parse::<u32>().unwrap_or(256) > 255 => {
                fail(&p, format!("decimal escape too large near `\\{}`", p.as_str()))
            }
            Rule::unicode_escape if u32::from_str_radix(p.as_str(), 16).map_or(true, |v| v > 0x7FFF_FFFF) => {
                fail(&p, "UTF-8 value too large".to_string())
            }
            _ if is_statement(p.as_rule()) => self.statement(p),
            _ => p.into_inner().try_for_each(|x| self.expression(x)),
        }
    }
}

fn is_statement(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::label
            | Rule::break_stat
            | Rule::goto_stat
            | Rule::local_stat
            | Rule::local_function
            | Rule::for_num
            | Rule::for_in
            | Rule::expr_stat
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leading_assignments_of_a_raw_block_are_found() {
        let text = "a = 1; b, c = 2, 3\nd = d .. \"x\"\n-- note\ne = { f = 1 }\nt.x = 2\nVirtualHost \"h\"\ng = 4";
        assert_eq!(leading_assignments(text), ["a", "b", "c", "e"]);
        assert_eq!(leading_assignments("local x = 1\na = 2"), Vec::<String>::new());
        assert_eq!(leading_assignments("a = "), Vec::<String>::new());
    }

    #[test]
    fn lua_that_luac_takes_passes() {
        for ok in [
            "",
            "log = { info = \"*console\" }",
            "modules_enabled = { \"ping\"; 'pep', [[x]], [==[y]]==] } -- c\n--[[ long\n comment ]] x = 1",
            "local a <const>, b <close> = 1, nil; print(a, b)",
            "function t.a.b:c(...) local x = ... ; return x end",
            "for i = 1, 10, 2 do if i > 3 then break end end for k, v in pairs(t) do goto done end ::done::",
            "x = 0x1p4 + .5 + 3e-2 + 0xA.8 + 1 // 2 ~ 3 & 4 | 5 >> 1 << 2 .. 'a' .. \"\\x41\\65\\u{48}\\z\n  b\"",
            "f{1}; f'x'; f\"y\"; ('s'):rep(2); a.b[c].d = -#t; repeat local z = 1 until z",
            "do local function f() return function(...) return ... end end end",
            "while true do do break end end",
            "if a then elseif b then else end; x = not a == b and c or d ~= e",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn lua_that_luac_refuses_fails_at_its_place() {
        let mut wrong = Vec::new();
        for (bad, at) in [
            ("log = ", 6),
            ("x = 1 +", 7),
            ("x = 3x", 4),
            ("x = 1..2", 4),
            ("x = \"a\\qb\"", 6),
            ("x = \"\\300\"", 6),
            ("x = 'open", 4),
            ("x = 'a\\'", 4),
            ("x = [[open", 4),
            ("f() = 1", 0),
            ("(a) = 1", 0),
            ("a.b", 0),
            ("x", 0),
            ("local a <const> = 1; a = 2", 21),
            ("local a <closed> = 1", 6),
            ("local a <const>= 1", 14),
            ("x = a...5", 6),
            ("local a <close>, b <close> = 1, 2", 17),
            ("break", 0),
            ("function f() break end", 13),
            ("goto nowhere", 0),
            ("::a:: ::a::", 6),
            ("function f() return ... end", 20),
            ("return 1; x = 2", 10),
            ("if x then", 9),
            ("end", 0),
            ("x = function() end end", 19),
        ] {
            match check(bad) {
                Err(e) if e.offset == at => {}
                Err(e) => wrong.push(format!("{bad:?}: at {} not {at}: {}", e.offset, e.message)),
                Ok(()) => wrong.push(format!("{bad:?} passed")),
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        assert!(check_statements("x = 1 return x").is_err(), "a top-level return ends the config");
        assert!(check_statements("function f() return 1 end").is_ok());
        let deep = format!("x = {}1{}", "(".repeat(200), ")".repeat(200));
        assert!(check(&deep).is_err_and(|e| e.message.contains("deeper")));
        for (open, at) in [("x = 'a\n'", 4), ("x = [==[a]=]", 4), ("--[[ a", 0), ("x = \"a\\\nb\" y = [[", 15)] {
            assert!(check(open).is_err_and(|e| e.offset == at && e.message.contains("unfinished")), "{open:?}");
        }
        let ok_deep = format!("x = {}1{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert_eq!(check(&ok_deep), Ok(()));
    }
}
