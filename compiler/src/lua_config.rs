//! A Prosody config read as data, for `import`: the options of each section (the global one,
//! `VirtualHost`s, `Component`s) with their values, as Prosody's config loader would set them. The
//! text is first checked as Lua 5.4 ([`lua_syntax::check`]); then each top-level statement must be
//! declarative: an assignment `name = expression`, a section line (`VirtualHost "x"`, `Host "x"`,
//! `Component "x" "module"`, each optionally followed by a table of options), or `Include`/`RunScript`
//! (kept as written, not followed). Expressions are constants, tables, `..` and arithmetic over them,
//! `ENV_NAME` and `os.getenv("NAME")` (environment references), and Prosody 13's `FileContents`,
//! `FileLine`, `FileLines` and `Credential` (kept as written). Anything else is refused at its place,
//! a name too (Prosody 0.12 reads a Lua global there, 13.0 an option): `import` never guesses what
//! code would compute.

use pest::Parser as _;
use pest::iterators::Pair;

use crate::lua_syntax::{self, Grammar, LuaError, Rule};

/// A value as the config sets it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A table: its entries sorted by key, without `nil` values.
    Table(Vec<(Key, Value)>),
    /// An environment variable read at start-up (`ENV_NAME`, `os.getenv("NAME")`).
    Env(String),
    /// What only the server computes (`FileLine "/path"`): its source text.
    Opaque(String),
}

/// A table key: a position or a name (other keys are refused).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    Index(i64),
    Name(String),
}

/// What a section is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Global,
    Host,
    Component,
}

/// The options a section line sets by itself: `defined` (`VirtualHost`), `component_module`
/// (`Component`).
pub const IMPLIED: [&str; 2] = ["defined", "component_module"];

/// One option as the config sets it last.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub name: String,
    pub value: Value,
    /// The assignment's source text (none for an option set in a section's table).
    pub text: Option<String>,
}

/// A section: `*` (global), a host or a component, with its options in the order first set.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub name: String,
    pub kind: Kind,
    pub settings: Vec<Setting>,
    /// `Include`/`RunScript` lines met in this section, as written.
    pub kept: Vec<String>,
}

impl Section {
    pub fn get(&self, name: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.name == name)
    }
}

/// A whole config: the global section first, the others in the order they first appear.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub sections: Vec<Section>,
}

impl Config {
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }
}

type Read<T> = Result<T, LuaError>;

/// At most this many options in a section, and sections in a config: bounds the work on any input
/// (lookups are linear) far above what a config holds.
pub const MAX_OPTIONS: usize = 10_000;

/// Reads a Prosody config.
pub fn read(text: &str) -> Read<Config> {
    lua_syntax::check(text)?;
    let chunk =
        Grammar::parse(Rule::chunk, text).map_err(|_| LuaError { offset: 0, message: "not Lua".to_string() })?.next();
    let mut r = Reader {
        config: Config {
            sections: vec![Section { name: "*".into(), kind: Kind::Global, settings: vec![], kept: vec![] }],
        },
        current: 0,
    };
    let Some(block) = chunk.and_then(|c| c.into_inner().next()) else { return Ok(r.config) };
    for stat in block.into_inner() {
        r.statement(stat)?;
    }
    Ok(r.config)
}

/// A statement's text, without the blanks and comments pest's span may take after it.
fn source(stat: &Pair<Rule>) -> String {
    let span = stat.as_span();
    // The rules that end on a token of their own (a repetition's span runs on over what it skipped).
    let ends_on_token = |r: Rule| {
        matches!(
            r,
            Rule::string
                | Rule::number
                | Rule::name
                | Rule::table
                | Rule::paren
                | Rule::call
                | Rule::index
                | Rule::kw_true
                | Rule::kw_false
                | Rule::kw_nil
        )
    };
    let ends = stat.clone().into_inner().flatten().filter(|p| ends_on_token(p.as_rule()));
    let end = ends.map(|p| p.as_span().end()).max().unwrap_or(span.end());
    stat.get_input()[span.start()..end].to_string()
}

fn refuse<T>(p: &Pair<Rule>, message: impl Into<String>) -> Read<T> {
    Err(LuaError { offset: p.as_span().start(), message: message.into() })
}

struct Reader {
    config: Config,
    current: usize,
}

impl Reader {
    fn statement(&mut self, p: Pair<Rule>) -> Read<()> {
        match p.as_rule() {
            Rule::empty => Ok(()),
            Rule::expr_stat => {
                let mut inner = p.clone().into_inner();
                let target = inner.next().ok_or_else(|| LuaError { offset: 0, message: "empty statement".into() })?;
                match inner.next() {
                    Some(tail) => self.assignment(&p, target, tail),
                    None => self.section_line(&p, target),
                }
            }
            Rule::retstat => refuse(&p, "`return` in a config: import reads options, not code"),
            _ => refuse(
                &p,
                "Lua code, not an option: import reads `name = value` lines and sections (`VirtualHost`, `Component`); set the value this computes by hand",
            ),
        }
    }

    fn assignment(&mut self, stat: &Pair<Rule>, target: Pair<Rule>, tail: Pair<Rule>) -> Read<()> {
        let mut parts = target.clone().into_inner();
        let primary = parts.next().and_then(|x| x.into_inner().next());
        let name = match (primary, parts.next()) {
            (Some(n), None) if n.as_rule() == Rule::name => n.as_str().to_string(),
            _ => return refuse(&target, "import reads options set by name (`name = value`), not fields"),
        };
        let mut values = tail.into_inner();
        let (Some(explist), None) = (values.next(), values.next()) else {
            return refuse(stat, "one option per assignment: import reads `name = value`");
        };
        let mut exps = explist.into_inner();
        let (Some(exp), None) = (exps.next(), exps.next()) else {
            return refuse(stat, "one value per assignment: import reads `name = value`");
        };
        let value = self.expression(exp)?;
        self.set(&name, value, Some(source(stat))).map_err(|e| LuaError { offset: stat.as_span().start(), ..e })
    }

    fn set(&mut self, name: &str, value: Option<Value>, text: Option<String>) -> Read<()> {
        let section = &mut self.config.sections[self.current];
        if section.settings.len() >= MAX_OPTIONS && section.get(name).is_none() {
            return Err(LuaError { offset: 0, message: format!("more than {MAX_OPTIONS} options in one section") });
        }
        match (section.settings.iter_mut().find(|s| s.name == name), value) {
            (Some(s), Some(v)) => {
                s.value = v;
                s.text = text;
            }
            (None, Some(v)) => section.settings.push(Setting { name: name.to_string(), value: v, text }),
            (_, None) => section.settings.retain(|s| s.name != name),
        }
        Ok(())
    }

    fn enter(&mut self, name: &str, kind: Kind) -> Read<()> {
        let name = if kind == Kind::Host && name == "*" { "*" } else { name };
        self.current = match self.config.sections.iter().position(|s| s.name == name) {
            Some(i) => i,
            None if self.config.sections.len() >= MAX_OPTIONS => {
                return Err(LuaError { offset: 0, message: format!("more than {MAX_OPTIONS} sections") });
            }
            None => {
                let kind = if name == "*" { Kind::Global } else { kind };
                self.config.sections.push(Section { name: name.to_string(), kind, settings: vec![], kept: vec![] });
                self.config.sections.len() - 1
            }
        };
        Ok(())
    }

    /// `VirtualHost "x"`, `Host "x"`, `Component "x" "module"`, each optionally with `{ options }`;
    /// `Include "file"`, `RunScript "file"`.
    fn section_line(&mut self, stat: &Pair<Rule>, call: Pair<Rule>) -> Read<()> {
        let mut parts = call.into_inner();
        let head = parts.next().and_then(|x| x.into_inner().next());
        let Some(head) = head.filter(|h| h.as_rule() == Rule::name) else {
            return refuse(
                stat,
                "a call import does not know: it reads sections (`VirtualHost`, `Component`) and options",
            );
        };
        let args: Vec<Pair<Rule>> = parts.collect();
        if args.iter().any(|a| a.as_rule() != Rule::call) {
            return refuse(
                stat,
                "a call import does not know: it reads sections (`VirtualHost`, `Component`) and options",
            );
        }
        let mut values = Vec::new();
        for a in &args {
            values.push(self.argument(a.clone())?);
        }
        let string = |i: usize| match values.get(i) {
            Some(Some(Value::Str(s))) => Some(s.clone()),
            _ => None,
        };
        match head.as_str() {
            "Include" | "RunScript" if args.len() == 1 => {
                self.config.sections[self.current].kept.push(source(stat));
                Ok(())
            }
            word @ ("VirtualHost" | "Host" | "Component") => {
                let Some(name) = string(0) else {
                    return refuse(stat, format!("`{word}` takes a quoted name: {word} \"example.com\""));
                };
                let component = word == "Component";
                let at = |e: LuaError| LuaError { offset: stat.as_span().start(), ..e };
                self.enter(&name, if component { Kind::Component } else { Kind::Host }).map_err(at)?;
                if !component {
                    // As Prosody's loader does: a host exists by this option ("*" too, by `Host "*"`).
                    self.set("defined", Some(Value::Bool(true)), None).map_err(at)?;
                }
                let mut next = 1;
                if component {
                    let module = string(1).inspect(|_| next = 2).unwrap_or_else(|| "component".to_string());
                    self.set("component_module", Some(Value::Str(module)), None).map_err(at)?;
                }
                match values.get(next..).unwrap_or_default() {
                    [] => Ok(()),
                    [Some(Value::Table(options))] => {
                        for (k, v) in options.clone() {
                            let Key::Name(k) = k else {
                                return refuse(stat, "the options after a section name are `name = value` entries");
                            };
                            self.set(&k, Some(v), None).map_err(at)?;
                        }
                        Ok(())
                    }
                    _ => refuse(stat, format!("`{word}` takes a name, then optionally a table of options")),
                }
            }
            other => refuse(
                &head,
                format!(
                    "`{other}(…)`: a call import does not know: it reads sections (`VirtualHost`, `Component`) and options"
                ),
            ),
        }
    }

    /// The value of one call's argument: `(exp)`, a table or a string.
    fn argument(&self, call: Pair<Rule>) -> Read<Option<Value>> {
        let mut inner = call.clone().into_inner();
        match (inner.next(), inner.next()) {
            (None, _) => refuse(&call, "a call with no argument"),
            (Some(x), None) if x.as_rule() == Rule::explist => {
                let mut exps = x.clone().into_inner();
                match (exps.next(), exps.next()) {
                    (Some(e), None) => self.expression(e),
                    _ => refuse(&x, "one argument expected"),
                }
            }
            (Some(x), None) => self.operand(x),
            _ => refuse(&call, "one argument expected"),
        }
    }

    /// An expression's value.
    fn expression(&self, exp: Pair<Rule>) -> Read<Option<Value>> {
        // Terms (their unary operators, value) and the binary operators between them, in order; then
        // Lua 5.4's precedence (§3.4.8), each level in one pass, so that any length of expression
        // takes linear time and no recursion: `^` (right to left, above a unary operator on its left),
        // `* / // %`, `+ -`, and a run of `..` joined at once.
        let mut terms: Vec<(Vec<Pair<Rule>>, Option<Value>)> = Vec::new();
        let mut ops: Vec<Pair<Rule>> = Vec::new();
        let mut unops: Vec<Pair<Rule>> = Vec::new();
        for x in exp.into_inner() {
            match x.as_rule() {
                Rule::unop if x.as_str() == "-" => unops.push(x),
                Rule::unop => return refuse(&x, "import computes only `-` on numbers, `..` and arithmetic"),
                Rule::binop if ["^", "*", "/", "//", "%", "+", "-", ".."].contains(&x.as_str()) => ops.push(x),
                Rule::binop => {
                    return refuse(&x, format!("`{}`: import computes only `..` and arithmetic", x.as_str()));
                }
                _ => terms.push((std::mem::take(&mut unops), self.operand(x)?)),
            }
        }
        let mut units: Vec<Option<Value>> = Vec::new();
        let mut rest: Vec<Pair<Rule>> = Vec::new();
        let mut i = 0;
        while i < terms.len() {
            let mut j = i;
            while j < ops.len() && ops[j].as_str() == "^" {
                j += 1;
            }
            let mut v = None;
            for k in (i..=j).rev() {
                let base = terms[k].1.take();
                v = if k == j { base } else { Some(arithmetic(&ops[k], base, v)?) };
                for u in terms[k].0.iter().rev() {
                    v = Some(match v {
                        Some(Value::Int(n)) => Value::Int(n.wrapping_neg()),
                        Some(Value::Float(f)) => Value::Float(-f),
                        _ => return refuse(u, "import computes `-` on numbers only"),
                    });
                }
            }
            units.push(v);
            if let Some(op) = ops.get(j) {
                rest.push(op.clone());
            }
            i = j + 1;
        }
        for level in [&["*", "/", "//", "%"][..], &["+", "-"]] {
            let mut next_units = Vec::new();
            let mut next_ops = Vec::new();
            let mut values = units.into_iter();
            let mut acc = values.next().flatten();
            for (op, v) in rest.into_iter().zip(values) {
                if level.contains(&op.as_str()) {
                    acc = Some(arithmetic(&op, acc, v)?);
                } else {
                    next_units.push(acc);
                    next_ops.push(op);
                    acc = v;
                }
            }
            next_units.push(acc);
            (units, rest) = (next_units, next_ops);
        }
        // Only `..` is left between the units.
        if rest.is_empty() {
            return Ok(units.pop().flatten());
        }
        let mut joined = String::new();
        for (k, v) in units.into_iter().enumerate() {
            let op = &rest[k.saturating_sub(1)];
            match v {
                Some(Value::Str(s)) => joined.push_str(&s),
                Some(Value::Int(n)) => joined.push_str(&n.to_string()),
                Some(Value::Float(f)) => joined.push_str(&lua_float(f)),
                None => return refuse(op, "`..` on a nil value"),
                Some(_) => return refuse(op, "`..` joins strings and numbers only"),
            }
        }
        Ok(Some(Value::Str(joined)))
    }

    fn operand(&self, x: Pair<Rule>) -> Read<Option<Value>> {
        Ok(Some(match x.as_rule() {
            Rule::kw_nil => return Ok(None),
            Rule::kw_true => Value::Bool(true),
            Rule::kw_false => Value::Bool(false),
            Rule::number => number(&x)?,
            Rule::string => Value::Str(string(x.as_str())),
            Rule::table => return self.table(x).map(Some),
            Rule::suffixedexp => return self.reference(x),
            _ => return refuse(&x, "import reads constants, tables, `..`, arithmetic, options and `ENV_` names here"),
        }))
    }

    fn table(&self, t: Pair<Rule>) -> Read<Value> {
        let mut entries: std::collections::BTreeMap<Key, Value> = std::collections::BTreeMap::new();
        let mut index = 0;
        for f in t.into_inner() {
            let mut inner = f.clone().into_inner();
            let (key, value) = match f.as_rule() {
                Rule::list_field => {
                    index += 1;
                    (Key::Index(index), inner.next())
                }
                Rule::named_field => {
                    let k = inner.next().map(|n| n.as_str().to_string()).unwrap_or_default();
                    (Key::Name(k), inner.next())
                }
                Rule::keyed_field => {
                    let Some(k) = inner.next() else { continue };
                    let key = match self.expression(k.clone())? {
                        Some(Value::Str(s)) => Key::Name(s),
                        Some(Value::Int(i)) => Key::Index(i),
                        _ => return refuse(&k, "import reads table keys that are strings or integers"),
                    };
                    (key, inner.next())
                }
                _ => continue,
            };
            let Some(value) = value else { continue };
            // A later entry for the same key wins; a nil one removes it.
            match self.expression(value)? {
                Some(v) => _ = entries.insert(key, v),
                None => _ = entries.remove(&key),
            }
        }
        Ok(Value::Table(entries.into_iter().collect()))
    }

    /// `ENV_NAME`, `os.getenv("NAME")`, `Lua.os.getenv("NAME")`, or `FileContents`/`FileLine`/
    /// `FileLines`/`Credential` of a path.
    fn reference(&self, x: Pair<Rule>) -> Read<Option<Value>> {
        let text = x.as_str();
        let mut parts = x.clone().into_inner();
        let Some(primary) = parts.next().and_then(|p| p.into_inner().next()) else {
            return refuse(&x, "an empty expression");
        };
        let rest: Vec<Pair<Rule>> = parts.collect();
        if primary.as_rule() == Rule::paren {
            let inner = primary.into_inner().next();
            return match (inner, rest.is_empty()) {
                (Some(e), true) => self.expression(e),
                _ => refuse(&x, "import reads constants, tables, `..`, arithmetic, options and `ENV_` names here"),
            };
        }
        let name = primary.as_str();
        let path: Vec<&str> = rest.iter().filter(|p| p.as_rule() == Rule::field).map(|p| &p.as_str()[1..]).collect();
        let calls: Vec<&Pair<Rule>> = rest.iter().filter(|p| p.as_rule() == Rule::call).collect();
        let call_last = rest.last().is_some_and(|p| p.as_rule() == Rule::call);
        match (name, path.as_slice(), calls.as_slice()) {
            (_, [], []) => match name.strip_prefix("ENV_") {
                Some(var) => Ok(Some(Value::Env(var.to_string()))),
                // Prosody 0.12 reads a Lua global there, 13.0 the option of that name (a table as a proxy).
                None => refuse(
                    &x,
                    format!(
                        "`{name}`: Prosody 0.12 reads a Lua global here and 13.0 an option; import reads values that mean the same to both: write the value"
                    ),
                ),
            },
            ("os", ["getenv"], [arg]) | ("Lua", ["os", "getenv"], [arg]) if call_last => {
                match self.argument((*arg).clone())? {
                    Some(Value::Str(var)) => Ok(Some(Value::Env(var))),
                    _ => refuse(&x, "os.getenv takes the variable's name as a string"),
                }
            }
            ("FileContents" | "FileLine" | "FileLines" | "Credential", [], [_]) if call_last => {
                Ok(Some(Value::Opaque(text.to_string())))
            }
            _ => refuse(
                &x,
                format!("`{text}`: import reads constants, tables, `..`, arithmetic, options and `ENV_` names here"),
            ),
        }
    }
}

fn arithmetic(op: &Pair<Rule>, a: Option<Value>, b: Option<Value>) -> Read<Value> {
    use Value::{Float, Int};
    let o = op.as_str();
    let float = |v: &Value| match v {
        Int(i) => Some(*i as f64),
        Float(f) => Some(*f),
        _ => None,
    };
    let (Some(a), Some(b)) = (a, b) else { return refuse(op, format!("`{o}` on a nil value")) };
    let out = match (&a, &b) {
        (Int(x), Int(y)) => match o {
            "+" => Some(Int(x.wrapping_add(*y))),
            "-" => Some(Int(x.wrapping_sub(*y))),
            "*" => Some(Int(x.wrapping_mul(*y))),
            "//" if *y != 0 => Some(Int(x.div_euclid(*y))),
            "%" if *y != 0 => Some(Int(x.rem_euclid(*y))),
            "/" => Some(Float(*x as f64 / *y as f64)),
            "^" => Some(Float((*x as f64).powf(*y as f64))),
            _ => None,
        },
        _ => match (float(&a), float(&b)) {
            (Some(x), Some(y)) => match o {
                "+" => Some(Float(x + y)),
                "-" => Some(Float(x - y)),
                "*" => Some(Float(x * y)),
                "/" => Some(Float(x / y)),
                "//" => Some(Float((x / y).floor())),
                "%" => Some(Float(x - (x / y).floor() * y)),
                "^" => Some(Float(x.powf(y))),
                _ => None,
            },
            _ => None,
        },
    };
    out.map_or_else(|| refuse(op, format!("import computes `{o}` on numbers only (and not by zero)")), Ok)
}

/// A float as Lua prints it (`%.14g`, and `1.0` for integral values).
pub fn lua_float(f: f64) -> String {
    if f.is_nan() {
        return "(0/0)".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "1e9999" } else { "-1e9999" }.to_string();
    }
    if f.is_finite() && f == f.trunc() && f.abs() < 1e15 { format!("{f:.1}") } else { format!("{f}") }
}

fn number(x: &Pair<Rule>) -> Read<Value> {
    let s = x.as_str();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        // Lua wraps hexadecimal integers around 2^64.
        return match u64::from_str_radix(hex, 16) {
            Ok(v) => Ok(Value::Int(v as i64)),
            Err(_) => refuse(x, "import reads hexadecimal integers only"),
        };
    }
    if !s.contains(['.', 'e', 'E'])
        && let Ok(i) = s.parse::<i64>()
    {
        return Ok(Value::Int(i));
    }
    s.parse::<f64>().map(Value::Float).or_else(|_| refuse(x, "a number import cannot read"))
}

/// The text a Lua string literal stands for (checked by `lua_syntax` first: escapes are valid).
fn string(lit: &str) -> String {
    if lit.starts_with('[') {
        let open = lit.find('[').and_then(|i| lit[i + 1..].find('[').map(|j| i + j + 2)).unwrap_or(2);
        let body = &lit[open..lit.len() - open];
        // A line break right after the opening bracket is skipped.
        let body = body.strip_prefix("\r\n").or_else(|| body.strip_prefix("\n\r")).unwrap_or(body);
        let body = body.strip_prefix(['\n', '\r']).unwrap_or(body);
        return body.to_string();
    }
    let body = &lit[1..lit.len() - 1];
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        i += 1;
        let c = b.get(i).copied().unwrap_or(b'\\');
        i += 1;
        match c {
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' | b'\n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'\r' => {
                out.push(b'\n');
                if b.get(i) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'z' => {
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
            }
            b'x' => {
                let v = u8::from_str_radix(&body[i..i + 2], 16).unwrap_or(0);
                out.push(v);
                i += 2;
            }
            b'u' => {
                let end = body[i..].find('}').map_or(b.len(), |e| i + e);
                let v = u32::from_str_radix(&body[i + 1..end], 16).unwrap_or(0);
                let mut buf = [0; 4];
                out.extend_from_slice(char::from_u32(v).unwrap_or('\u{FFFD}').encode_utf8(&mut buf).as_bytes());
                i = end + 1;
            }
            d if d.is_ascii_digit() => {
                let mut v = u32::from(d - b'0');
                for _ in 0..2 {
                    match b.get(i) {
                        Some(n) if n.is_ascii_digit() => {
                            v = v * 10 + u32::from(n - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(u8::try_from(v).unwrap_or(u8::MAX));
            }
            other => out.push(other),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `value` as Lua source: strings quoted as the compiler quotes them (`emit::lua`), with `{` and `}`
/// escaped too, so that the text balances inside a raw `prosody { }` block; tables with their entries
/// in key order.
pub fn render(value: &Value) -> String {
    let braces = |s: String| s.replace('{', "\\123").replace('}', "\\125");
    match value {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => lua_float(*f),
        Value::Str(s) => braces(crate::emit::lua::quote(s)),
        Value::Table(entries) => {
            let mut position = 0;
            let items: Vec<String> = entries
                .iter()
                .map(|(k, v)| match k {
                    Key::Index(i) if *i == position + 1 => {
                        position = *i;
                        render(v)
                    }
                    Key::Index(i) => format!("[{i}] = {}", render(v)),
                    Key::Name(n) => format!("{} = {}", braces(crate::emit::lua::key(n)), render(v)),
                })
                .collect();
            if items.is_empty() { "{ }".to_string() } else { format!("{{ {} }}", items.join("; ")) }
        }
        Value::Env(var) => format!("ENV_{var}"),
        Value::Opaque(text) => text.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(text: &str) -> Vec<(String, Value)> {
        read(text).unwrap().sections[0].settings.iter().map(|s| (s.name.clone(), s.value.clone())).collect()
    }

    #[test]
    fn options_are_read_as_prosody_sets_them() {
        let c = read(
            "admins = { }\nmodules_enabled = { \"roster\"; 'ping', -- c\n [[pep]] }\nlimit = 10*1024*1024\n\
             path = \"/var/\" .. \"lib\"\nx = 1; x = nil\nlog = { info = \"a\\x41\\65\\u{48}\"; { levels = { \"error\" } } }\n\
             VirtualHost \"a.test\"\n  ssl = { key = \"k\"; certificate = \"c\" }\n  enabled = false\n\
             Component \"conference.a.test\" \"muc\"\n  name = \"Rooms\"\nComponent \"ext.a.test\" { component_secret = ENV_S }\n\
             VirtualHost \"a.test\"\n  pass = os.getenv(\"P\")\nHost \"*\"\n  late = -2.5 Include \"conf.d/*.cfg.lua\"",
        )
        .unwrap();
        let g = &c.sections[0];
        let names: Vec<&str> = g.settings.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["admins", "modules_enabled", "limit", "path", "log", "defined", "late"],
            "`Host \"*\"` marks it"
        );
        assert_eq!(g.get("limit").unwrap().value, Value::Int(10_485_760));
        assert_eq!(g.get("path").unwrap().value, Value::Str("/var/lib".into()));
        assert_eq!(g.get("late").unwrap().value, Value::Float(-2.5));
        assert_eq!(render(&g.get("log").unwrap().value), "{ { levels = { \"error\" } }; info = \"aAAH\" }");
        assert_eq!(
            render(&g.get("modules_enabled").unwrap().value),
            "{ \"roster\"; \"ping\"; \"pep\" }",
            "comments and both separators"
        );
        assert_eq!(g.kept, ["Include \"conf.d/*.cfg.lua\""]);
        let host = c.section("a.test").unwrap();
        assert_eq!(host.kind, Kind::Host);
        assert_eq!(host.get("pass").unwrap().value, Value::Env("P".into()), "re-entered, as Prosody does");
        let muc = c.section("conference.a.test").unwrap();
        assert_eq!(
            (muc.kind, &muc.get("component_module").unwrap().value),
            (Kind::Component, &Value::Str("muc".into()))
        );
        let ext = c.section("ext.a.test").unwrap();
        assert_eq!(ext.get("component_module").unwrap().value, Value::Str("component".into()));
        assert_eq!(ext.get("component_secret").unwrap().value, Value::Env("S".into()));
    }

    #[test]
    fn an_option_is_kept_as_written_without_what_follows_it() {
        let c = read("c = \"z\" -- note\nd = { 1 }; -- more\ne = FileLine \"/run/x\"").unwrap();
        let g = &c.sections[0];
        assert_eq!(g.get("c").unwrap().text.as_deref(), Some("c = \"z\""));
        assert_eq!(g.get("d").unwrap().text.as_deref(), Some("d = { 1 }"));
        assert_eq!(g.get("e").unwrap().value, Value::Opaque("FileLine \"/run/x\"".into()));
    }

    #[test]
    fn code_is_refused_at_its_place() {
        for (text, at, says) in [
            ("a = 1\nlocal x = 2", 6, "Lua code"),
            ("if a then b = 1 end", 0, "Lua code"),
            ("a = 1\nt.x = 2", 6, "by name"),
            ("a = require(\"x\")", 4, "`require(\"x\")`"),
            ("a = 1 == 1", 6, "`==`"),
            ("a = function() end", 4, "constants"),
            ("print(\"x\")", 0, "`print(…)`"),
            ("VirtualHost(1)", 0, "quoted name"),
            ("a, b = 1, 2", 0, "one option"),
            ("a = 1 // 0", 6, "not by zero"),
            ("a = \"x\" .. nil", 8, "nil"),
            ("a = \"x\"\nb = a .. \"y\"", 12, "0.12 reads a Lua global"),
            ("m = modules_enabled:append { \"x\" }", 4, "import reads"),
            ("return", 0, "`return`"),
        ] {
            let e = read(text).unwrap_err();
            assert_eq!(e.offset, at, "{text}: {e:?}");
            assert!(e.message.contains(says), "{text}: {e:?}");
        }
        assert_eq!(read("a = ").unwrap_err().message, "unexpected symbol near the end of the block");
    }

    #[test]
    fn arithmetic_follows_lua_precedence() {
        for (text, want) in [
            ("v = -2^2", Value::Float(-4.0)),
            ("v = 2^-1", Value::Float(0.5)),
            ("v = 2^3^2", Value::Float(512.0)),
            ("v = 1 + 2 * 3 - 4 // 3 % 5", Value::Int(6)),
            ("v = 7 // 2 .. \"x\" .. 1.5 .. -1", Value::Str("3x1.5-1".into())),
            ("v = (1 + 2) * 3", Value::Int(9)),
        ] {
            assert_eq!(global(text), [("v".to_string(), want)], "{text}");
        }
    }

    #[test]
    fn long_expressions_take_linear_time_and_no_stack() {
        let n = 200_000;
        let concat = format!("v = \"a\"{}", " .. \"a\"".repeat(n));
        assert_eq!(global(&concat)[0].1, Value::Str("a".repeat(n + 1)));
        let powers = format!("v = 1{}", " ^ 1".repeat(n));
        assert_eq!(global(&powers)[0].1, Value::Float(1.0));
        let negations = format!("v = {}1", "- ".repeat(n));
        assert_eq!(global(&negations)[0].1, Value::Int(1));
        let many: String = (0..=MAX_OPTIONS).map(|i| format!("o{i} = 1\n")).collect();
        let e = read(&many).unwrap_err();
        assert_eq!((e.offset, e.message.as_str()), (many.len() - 11, "more than 10000 options in one section"));
        let table = format!("v = {{ {} }}", "x = 1, ".repeat(n));
        assert_eq!(global(&table)[0].1, Value::Table(vec![(Key::Name("x".into()), Value::Int(1))]));
    }

    #[test]
    fn rendered_values_read_back_the_same() {
        for text in [
            "v = { \"a{\"; \"}\\\"\\\\\\n\"; [5] = 1.5; [\"not a name\"] = true; nested = { x = -3 } }",
            "v = { }",
            "v = 1e300 * 10",
        ] {
            let v = &global(text)[0].1;
            let again = &global(&format!("v = {}", render(v)))[0].1;
            assert_eq!(v, again, "{text}");
            let braces = render(v).chars().filter(|c| *c == '{').count();
            assert_eq!(braces, render(v).chars().filter(|c| *c == '}').count(), "{text}: balanced");
        }
    }
}
