//! Parameter values and the `${…}` expression language of OpenSCENARIO 1.x:
//! numbers, parameter references (`$name`), `+ - * / %`, unary minus,
//! parentheses, and `and`/`or`/`not` on booleans (`true`/`false`).

use std::collections::HashMap;
use std::fmt;

/// A parameter's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Num(f64),
    Bool(bool),
    Str(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Num(v) => write!(f, "{v}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) => f.write_str(s),
        }
    }
}

impl Value {
    /// The value typed by an OpenSCENARIO `parameterType`.
    pub fn typed(kind: &str, text: &str) -> Result<Value, String> {
        match kind {
            "double" | "int" | "integer" | "unsignedInt" | "unsignedShort" => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(Value::Num)
                .ok_or_else(|| format!("{text:?} is not a {kind}")),
            "boolean" => parse_bool(text)
                .map(Value::Bool)
                .ok_or_else(|| format!("{text:?} is not a boolean")),
            "string" | "dateTime" => Ok(Value::Str(text.to_owned())),
            other => Err(format!("unknown parameterType {other:?}")),
        }
    }

    /// The value read as a number (numeric strings too).
    pub fn as_num(&self) -> Option<f64> {
        match self {
            Value::Num(v) => Some(*v),
            Value::Bool(_) => None,
            Value::Str(s) => s.trim().parse().ok(),
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Num(_) => None,
            Value::Str(s) => parse_bool(s),
        }
    }
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Parameters visible at some point of a document, innermost scope last.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    frames: Vec<HashMap<String, Value>>,
}

impl Scope {
    pub fn new() -> Self {
        Self {
            frames: vec![HashMap::new()],
        }
    }

    pub fn push(&mut self) {
        self.frames.push(HashMap::new());
    }

    pub fn pop(&mut self) {
        if self.frames.len() > 1 {
            self.frames.pop();
        }
    }

    /// Declares (or overrides, in the innermost scope) a parameter.
    pub fn set(&mut self, name: &str, v: Value) {
        if self.frames.is_empty() {
            self.frames.push(HashMap::new());
        }
        self.frames
            .last_mut()
            .expect("a scope")
            .insert(name.to_owned(), v);
    }

    /// The outermost scope's parameters (the document's global ones).
    pub fn globals(&self) -> Vec<(String, Value)> {
        let mut v: Vec<(String, Value)> = self
            .frames
            .first()
            .map(|f| f.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.frames.iter().rev().find_map(|f| f.get(name))
    }

    /// Resolves an attribute's text: `$name` is the parameter's value,
    /// `${…}` an expression's, anything else the text itself.
    pub fn resolve(&self, text: &str) -> Result<Value, String> {
        let t = text.trim();
        if let Some(body) = t.strip_prefix("${") {
            let body = body
                .strip_suffix('}')
                .ok_or_else(|| format!("expression {t:?} lacks its closing `}}`"))?;
            return eval(body, self);
        }
        if let Some(name) = t.strip_prefix('$') {
            return self
                .get(name)
                .cloned()
                .ok_or_else(|| format!("unknown parameter `${name}`"));
        }
        Ok(Value::Str(text.to_owned()))
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Param(String),
    Word(String),
    Op(char),
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i] as char;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < b.len() && ((b[i] as char).is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            // Exponent: 1e-3, 2.5E+2.
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && (b[j] as char).is_ascii_digit() {
                    i = j;
                    while i < b.len() && (b[i] as char).is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text = &src[start..i];
            out.push(Tok::Num(
                text.parse()
                    .map_err(|_| format!("{text:?} is not a number"))?,
            ));
        } else if c == '$' || c.is_ascii_alphabetic() || c == '_' {
            let start = i + usize::from(c == '$');
            i = start;
            while i < b.len() && ((b[i] as char).is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let name = &src[start..i];
            if name.is_empty() {
                return Err("`$` without a parameter name".into());
            }
            out.push(if c == '$' {
                Tok::Param(name.into())
            } else {
                Tok::Word(name.into())
            });
        } else if "+-*/%(),".contains(c) {
            out.push(Tok::Op(c));
            i += 1;
        } else {
            return Err(format!("unexpected character {c:?}"));
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    scope: &'a Scope,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }

    fn or(&mut self) -> Result<Value, String> {
        let mut l = self.and()?;
        while self.word("or") {
            self.pos += 1;
            let r = self.and()?;
            l = Value::Bool(boolean(&l)? || boolean(&r)?);
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Value, String> {
        let mut l = self.not()?;
        while self.word("and") {
            self.pos += 1;
            let r = self.not()?;
            l = Value::Bool(boolean(&l)? && boolean(&r)?);
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Value, String> {
        if self.word("not") {
            self.pos += 1;
            let v = self.not()?;
            return Ok(Value::Bool(!boolean(&v)?));
        }
        self.sum()
    }

    fn sum(&mut self) -> Result<Value, String> {
        let mut l = self.product()?;
        while let Some(Tok::Op(op @ ('+' | '-'))) = self.peek() {
            let op = *op;
            self.pos += 1;
            let r = self.product()?;
            let (a, b) = (number(&l)?, number(&r)?);
            l = Value::Num(if op == '+' { a + b } else { a - b });
        }
        Ok(l)
    }

    fn product(&mut self) -> Result<Value, String> {
        let mut l = self.unary()?;
        while let Some(Tok::Op(op @ ('*' | '/' | '%'))) = self.peek() {
            let op = *op;
            self.pos += 1;
            let r = self.unary()?;
            let (a, b) = (number(&l)?, number(&r)?);
            l = Value::Num(match op {
                '*' => a * b,
                '/' => {
                    if b == 0.0 {
                        return Err("division by zero".into());
                    }
                    a / b
                }
                _ => {
                    if b == 0.0 {
                        return Err("remainder by zero".into());
                    }
                    a % b
                }
            });
        }
        Ok(l)
    }

    fn unary(&mut self) -> Result<Value, String> {
        if let Some(Tok::Op('-')) = self.peek() {
            self.pos += 1;
            let v = self.unary()?;
            return Ok(Value::Num(-number(&v)?));
        }
        if let Some(Tok::Op('+')) = self.peek() {
            self.pos += 1;
            return self.unary();
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Value, String> {
        let t = self
            .peek()
            .cloned()
            .ok_or_else(|| "the expression ends early".to_string())?;
        self.pos += 1;
        match t {
            Tok::Num(v) => Ok(Value::Num(v)),
            Tok::Param(name) => self
                .scope
                .get(&name)
                .cloned()
                .ok_or_else(|| format!("unknown parameter `${name}`")),
            Tok::Word(w) if w == "true" => Ok(Value::Bool(true)),
            Tok::Word(w) if w == "false" => Ok(Value::Bool(false)),
            Tok::Word(w) if matches!(self.peek(), Some(Tok::Op('('))) => {
                self.pos += 1;
                let mut args = Vec::new();
                if !matches!(self.peek(), Some(Tok::Op(')'))) {
                    loop {
                        let v = self.or()?;
                        args.push(number(&v)?);
                        if matches!(self.peek(), Some(Tok::Op(','))) {
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                }
                match self.peek() {
                    Some(Tok::Op(')')) => self.pos += 1,
                    _ => return Err(format!("`{w}(`: missing `)`")),
                }
                call(&w, &args).map(Value::Num)
            }
            Tok::Word(w) => Err(format!("unexpected word `{w}`")),
            Tok::Op('(') => {
                let v = self.or()?;
                match self.peek() {
                    Some(Tok::Op(')')) => {
                        self.pos += 1;
                        Ok(v)
                    }
                    _ => Err("missing `)`".into()),
                }
            }
            Tok::Op(c) => Err(format!("unexpected `{c}`")),
        }
    }
}

/// The functions of OpenSCENARIO 1.2 expressions.
fn call(name: &str, a: &[f64]) -> Result<f64, String> {
    let one = |f: fn(f64) -> f64| match a {
        [x] => Ok(f(*x)),
        _ => Err(format!("`{name}` takes one argument, got {}", a.len())),
    };
    let two = |f: fn(f64, f64) -> f64| match a {
        [x, y] => Ok(f(*x, *y)),
        _ => Err(format!("`{name}` takes two arguments, got {}", a.len())),
    };
    match name {
        "sqrt" => {
            if a.first().is_some_and(|x| *x < 0.0) {
                return Err("sqrt of a negative number".into());
            }
            one(f64::sqrt)
        }
        "abs" => one(f64::abs),
        "round" => one(f64::round),
        "floor" => one(f64::floor),
        "ceil" => one(f64::ceil),
        "sin" => one(f64::sin),
        "cos" => one(f64::cos),
        "tan" => one(f64::tan),
        "asin" => one(f64::asin),
        "acos" => one(f64::acos),
        "atan" => one(f64::atan),
        "sign" => one(|x| if x == 0.0 { 0.0 } else { x.signum() }),
        "pow" => two(f64::powf),
        "min" => two(f64::min),
        "max" => two(f64::max),
        _ => Err(format!("unknown function `{name}`")),
    }
}

fn number(v: &Value) -> Result<f64, String> {
    v.as_num()
        .ok_or_else(|| format!("{v} is not a number in an arithmetic expression"))
}

fn boolean(v: &Value) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("{v} is not a boolean in a logical expression"))
}

/// Evaluates the body of a `${…}` expression.
pub fn eval(src: &str, scope: &Scope) -> Result<Value, String> {
    let toks = lex(src).map_err(|e| format!("expression {src:?}: {e}"))?;
    let mut p = Parser {
        toks,
        pos: 0,
        scope,
    };
    let v = p.or().map_err(|e| format!("expression {src:?}: {e}"))?;
    if p.pos != p.toks.len() {
        return Err(format!(
            "expression {src:?}: unexpected {:?} after the end",
            p.toks[p.pos]
        ));
    }
    if let Value::Num(x) = v
        && !x.is_finite()
    {
        return Err(format!("expression {src:?} is not finite"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        let mut s = Scope::new();
        s.set("v", Value::Num(60.0));
        s.set("two", Value::Num(2.0));
        s.set("on", Value::Bool(true));
        s.set("name", Value::Str("car".into()));
        s
    }

    fn num(src: &str) -> f64 {
        eval(src, &scope()).unwrap().as_num().unwrap()
    }

    #[test]
    fn arithmetic_has_the_usual_precedence() {
        assert_eq!(num("1 + 2 * 3"), 7.0);
        assert_eq!(num("(1 + 2) * 3"), 9.0);
        assert_eq!(num("10 - 4 - 3"), 3.0);
        assert_eq!(num("12 / 4 / 3"), 1.0);
        assert_eq!(num("7 % 4"), 3.0);
        assert_eq!(num("-2 * -3"), 6.0);
        assert_eq!(num("-(1 + 2)"), -3.0);
        assert_eq!(num("1.5e2 + 0.5"), 150.5);
        assert_eq!(num("2 * sqrt( -5 * -5 ) / 2"), 5.0);
        assert_eq!(num("max(1, pow(2, 3))"), 8.0);
        assert_eq!(num("abs(-2) + sign(-3)"), 1.0);
    }

    #[test]
    fn parameters_resolve_inside_expressions() {
        assert!((num("$v / 3.6") - 16.666_666_666_666_668).abs() < 1e-12);
        assert!((num("(2.0 * ($v / 3.6)) * 3.6 + 5.0") - 125.0).abs() < 1e-12);
        assert_eq!(num("$two * $two % 3"), 1.0);
        let s = scope();
        assert_eq!(s.resolve("${$v / $two}").unwrap(), Value::Num(30.0));
        assert_eq!(s.resolve("$name").unwrap(), Value::Str("car".into()));
        assert_eq!(s.resolve("plain").unwrap(), Value::Str("plain".into()));
    }

    #[test]
    fn booleans_combine() {
        let s = scope();
        assert_eq!(eval("$on and false", &s).unwrap(), Value::Bool(false));
        assert_eq!(eval("$on or false", &s).unwrap(), Value::Bool(true));
        assert_eq!(eval("not $on or true", &s).unwrap(), Value::Bool(true));
        assert_eq!(eval("not ($on and true)", &s).unwrap(), Value::Bool(false));
    }

    #[test]
    fn bad_expressions_are_errors() {
        let s = scope();
        for bad in [
            "$missing + 1",
            "1 +",
            "(1 + 2",
            "1 / 0",
            "1 % 0",
            "$name * 2",
            "$on + 1",
            "2 and true",
            "1 2",
            "#",
            "sqrt(-1)",
            "pow(2)",
            "nosuch(1)",
        ] {
            assert!(eval(bad, &s).is_err(), "{bad} should fail");
        }
        assert!(s.resolve("${1 + 1").is_err());
        let e = s.resolve("$nope").unwrap_err();
        assert!(e.contains("$nope"), "{e}");
    }

    #[test]
    fn inner_scopes_shadow_and_pop() {
        let mut s = scope();
        s.push();
        s.set("v", Value::Num(1.0));
        assert_eq!(s.get("v"), Some(&Value::Num(1.0)));
        s.pop();
        assert_eq!(s.get("v"), Some(&Value::Num(60.0)));
    }

    #[test]
    fn typed_values() {
        assert_eq!(Value::typed("double", "2.5").unwrap(), Value::Num(2.5));
        assert_eq!(Value::typed("boolean", "true").unwrap(), Value::Bool(true));
        assert!(Value::typed("double", "fast").is_err());
        assert!(Value::typed("int", "nan").is_err());
        assert!(Value::typed("complex", "1").is_err());
    }
}
