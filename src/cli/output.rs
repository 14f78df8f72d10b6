//! Printing responses as the AWS CLI v2 does: timestamps as Python's
//! `isoformat()`, `--query` (JMESPath) applied first, then `json` (4-space
//! indent, members in response order), `text` (awscli's `text.py`) or `table`
//! (awscli's table formatter, simplified).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::CliError;

/// A JSON value that keeps object members in their order (the response's
/// order is the AWS model's order, and the AWS CLI prints it so). Strings
/// are wiped when dropped: a response may hold a plaintext.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(serde_json::Number),
    /// A string.
    String(Zeroizing<String>),
    /// An array.
    Array(Vec<Json>),
    /// An object, members in order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Json {
        Json::String(Zeroizing::new(s.into()))
    }

    /// The member `name` of an object.
    pub fn get(&self, name: &str) -> Option<&Json> {
        match self {
            Json::Object(m) => m.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    fn is_scalar(&self) -> bool {
        !matches!(self, Json::Array(_) | Json::Object(_))
    }

    /// Parses a response body.
    pub fn parse(bytes: &[u8]) -> Result<Json, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Python's `str()` of the value, as the text and table outputs print
    /// scalars (`True`, `None`, ...).
    fn python_str(&self) -> String {
        match self {
            Json::Null => "None".into(),
            Json::Bool(true) => "True".into(),
            Json::Bool(false) => "False".into(),
            Json::Number(n) => n.to_string(),
            Json::String(s) => s.to_string(),
            other => other.to_pretty_json(),
        }
    }

    /// Pretty JSON with a 4-space indent, as `json.dumps(indent=4,
    /// ensure_ascii=False)` writes it.
    pub fn to_pretty_json(&self) -> String {
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        // Serialising this tree to memory cannot fail.
        let _ = self.serialize(&mut ser);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => n.serialize(s),
            Json::String(v) => s.serialize_str(v),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
                Ok(Json::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
                Ok(Json::Number(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
                Ok(Json::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
                Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
                Ok(Json::str(v))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
                Ok(Json::String(Zeroizing::new(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut members: Vec<(String, Json)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Json>()? {
                    match members.iter_mut().find(|(name, _)| *name == k) {
                        Some(slot) => slot.1 = v,
                        None => members.push((k, v)),
                    }
                }
                Ok(Json::Object(members))
            }
        }
        d.deserialize_any(V)
    }
}

/// The timestamp members of the KMS API model: the AWS CLI turns these (and
/// only these) into ISO 8601 strings.
const TIMESTAMP_MEMBERS: &[&str] = &[
    "CreationDate",
    "DeletionDate",
    "ValidTo",
    "ParametersValidTo",
    "NextRotationDate",
    "OnDemandRotationStartDate",
    "RotationDate",
    "LastUpdatedDate",
];

/// Epoch seconds as Python's `datetime.fromtimestamp(v, tzutc()).isoformat()`:
/// `2025-06-06T21:15:07.592000+00:00`, no fraction when it is zero.
pub fn iso_timestamp(epoch_seconds: f64) -> Option<String> {
    if !epoch_seconds.is_finite() {
        return None;
    }
    let micros = (epoch_seconds * 1e6).round();
    if micros.abs() > 1e17 {
        return None;
    }
    let dt = chrono::DateTime::from_timestamp_micros(micros as i64)?;
    let fraction = dt.timestamp_subsec_micros();
    let base = dt.format("%Y-%m-%dT%H:%M:%S");
    Some(if fraction == 0 {
        format!("{base}+00:00")
    } else {
        format!("{base}.{fraction:06}+00:00")
    })
}

/// Replaces the numbers of timestamp members, anywhere in `value`, with
/// their ISO 8601 form.
pub fn convert_timestamps(value: &mut Json) {
    match value {
        Json::Object(members) => {
            for (name, v) in members.iter_mut() {
                if let Json::Number(n) = v
                    && TIMESTAMP_MEMBERS.contains(&name.as_str())
                    && let Some(iso) = n.as_f64().and_then(iso_timestamp)
                {
                    *v = Json::str(iso);
                } else {
                    convert_timestamps(v);
                }
            }
        }
        Json::Array(items) => items.iter_mut().for_each(convert_timestamps),
        _ => {}
    }
}

/// `--output` (the variants have no doc comments so that clap lists them on
/// one line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    // Pretty JSON, 4-space indent (the default).
    #[default]
    Json,
    // Tab-separated values, as the AWS CLI's text output.
    Text,
    // Boxed tables, as the AWS CLI's table output.
    Table,
}

/// A compiled `--query`.
pub struct Query {
    expression: jmespath::Expression<'static>,
    /// Member orders of the multi-select hashes in the expression.
    hash_orders: Vec<Vec<String>>,
}

impl Query {
    /// Compiles `text`; a syntax error is a usage error, as in the AWS CLI.
    pub fn compile(text: &str) -> Result<Query, CliError> {
        let expression = jmespath::compile(text)
            .map_err(|e| CliError::Usage(format!("Bad value for --query {text}: {e}")))?;
        let mut hash_orders = Vec::new();
        collect_hash_orders(expression.as_ast(), &mut hash_orders);
        Ok(Query {
            expression,
            hash_orders,
        })
    }

    /// Applies the query. JMESPath objects come back sorted by name; member
    /// order is restored from the expression (`{A: x, B: y}`) or from the
    /// object of the input the result was cut from.
    pub fn apply(&self, value: &Json) -> Result<Json, CliError> {
        let result = self.expression.search(to_variable(value)).map_err(|e| {
            CliError::Usage(format!(
                "Bad value for --query {}: {e}",
                self.expression.as_str()
            ))
        })?;
        let mut source_orders = Vec::new();
        collect_source_orders(value, &mut source_orders);
        Ok(from_variable(&result, &self.hash_orders, &source_orders))
    }
}

fn collect_hash_orders(ast: &jmespath::ast::Ast, out: &mut Vec<Vec<String>>) {
    use jmespath::ast::Ast;
    match ast {
        Ast::MultiHash { elements, .. } => {
            out.push(elements.iter().map(|kv| kv.key.clone()).collect());
            for kv in elements {
                collect_hash_orders(&kv.value, out);
            }
        }
        Ast::Comparison { lhs, rhs, .. }
        | Ast::Projection { lhs, rhs, .. }
        | Ast::And { lhs, rhs, .. }
        | Ast::Or { lhs, rhs, .. }
        | Ast::Subexpr { lhs, rhs, .. } => {
            collect_hash_orders(lhs, out);
            collect_hash_orders(rhs, out);
        }
        Ast::Condition {
            predicate, then, ..
        } => {
            collect_hash_orders(predicate, out);
            collect_hash_orders(then, out);
        }
        Ast::Expref { ast, .. } => collect_hash_orders(ast, out),
        Ast::Flatten { node, .. } | Ast::Not { node, .. } | Ast::ObjectValues { node, .. } => {
            collect_hash_orders(node, out)
        }
        Ast::Function { args, .. } => args.iter().for_each(|a| collect_hash_orders(a, out)),
        Ast::MultiList { elements, .. } => {
            elements.iter().for_each(|a| collect_hash_orders(a, out))
        }
        Ast::Identity { .. }
        | Ast::Field { .. }
        | Ast::Index { .. }
        | Ast::Literal { .. }
        | Ast::Slice { .. } => {}
    }
}

fn collect_source_orders(value: &Json, out: &mut Vec<Vec<String>>) {
    match value {
        Json::Object(members) => {
            let names: Vec<String> = members.iter().map(|(k, _)| k.clone()).collect();
            if !out.contains(&names) {
                out.push(names);
            }
            members
                .iter()
                .for_each(|(_, v)| collect_source_orders(v, out));
        }
        Json::Array(items) => items.iter().for_each(|v| collect_source_orders(v, out)),
        _ => {}
    }
}

fn to_variable(value: &Json) -> jmespath::Rcvar {
    use jmespath::Variable;
    let v = match value {
        Json::Null => Variable::Null,
        Json::Bool(b) => Variable::Bool(*b),
        Json::Number(n) => Variable::Number(n.clone()),
        Json::String(s) => Variable::String(s.to_string()),
        Json::Array(items) => Variable::Array(items.iter().map(to_variable).collect()),
        Json::Object(members) => Variable::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), to_variable(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    };
    jmespath::Rcvar::new(v)
}

fn from_variable(
    v: &jmespath::Variable,
    hash_orders: &[Vec<String>],
    source_orders: &[Vec<String>],
) -> Json {
    use jmespath::Variable;
    match v {
        Variable::Null | Variable::Expref(_) => Json::Null,
        Variable::Bool(b) => Json::Bool(*b),
        Variable::Number(n) => Json::Number(n.clone()),
        Variable::String(s) => Json::str(s.as_str()),
        Variable::Array(items) => Json::Array(
            items
                .iter()
                .map(|i| from_variable(i, hash_orders, source_orders))
                .collect(),
        ),
        Variable::Object(map) => {
            let names: Vec<&String> = map.keys().collect();
            let same_set = |order: &&Vec<String>| {
                order.len() == names.len() && names.iter().all(|n| order.contains(n))
            };
            let superset = |order: &&Vec<String>| names.iter().all(|n| order.contains(n));
            let order = hash_orders
                .iter()
                .find(same_set)
                .or_else(|| source_orders.iter().find(superset));
            let mut members: Vec<(String, Json)> = map
                .iter()
                .map(|(k, v)| (k.clone(), from_variable(v, hash_orders, source_orders)))
                .collect();
            if let Some(order) = order {
                members
                    .sort_by_key(|(k, _)| order.iter().position(|o| o == k).unwrap_or(usize::MAX));
            }
            Json::Object(members)
        }
    }
}

/// `value` in `format`. `title` heads a table (the
/// operation name). An empty object prints nothing, as for operations
/// without output.
pub fn render(value: &Json, format: OutputFormat, title: &str) -> String {
    if *value == Json::Object(Vec::new()) {
        return String::new();
    }
    match format {
        OutputFormat::Json => {
            let mut s = value.to_pretty_json();
            s.push('\n');
            s
        }
        OutputFormat::Text => {
            let mut s = String::new();
            format_text(value, &mut s, None, None);
            s
        }
        OutputFormat::Table => table::render(value, title),
    }
}

/// Prints `value`; a closed pipe (`| head`) is not an error.
pub fn print(value: &Json, format: OutputFormat, title: &str) {
    let text = Zeroizing::new(render(value, format, title));
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush());
}

// ---- text: a transcription of awscli/text.py -------------------------------

fn format_text(
    item: &Json,
    out: &mut String,
    identifier: Option<&str>,
    scalar_keys: Option<&[String]>,
) {
    match item {
        Json::Object(_) => format_dict(scalar_keys, item, identifier, out),
        Json::Array(items) => format_list(items, identifier, out),
        scalar => {
            out.push_str(&scalar.python_str());
            out.push('\n');
        }
    }
}

fn format_list(items: &[Json], identifier: Option<&str>, out: &mut String) {
    if items.is_empty() {
        return;
    }
    if items.iter().any(|e| matches!(e, Json::Object(_))) {
        let all_keys = all_scalar_keys(items);
        for element in items {
            format_text(element, out, identifier, Some(&all_keys));
        }
    } else if items.iter().any(|e| matches!(e, Json::Array(_))) {
        let (scalars, non_scalars): (Vec<&Json>, Vec<&Json>) =
            items.iter().partition(|e| e.is_scalar());
        if !scalars.is_empty() {
            format_scalar_list(&scalars, identifier, out);
        }
        for e in non_scalars {
            format_text(e, out, identifier, None);
        }
    } else {
        format_scalar_list(&items.iter().collect::<Vec<_>>(), identifier, out);
    }
}

fn format_scalar_list(items: &[&Json], identifier: Option<&str>, out: &mut String) {
    match identifier {
        Some(id) => {
            for item in items {
                out.push_str(&format!("{}\t{}\n", id.to_uppercase(), item.python_str()));
            }
        }
        None => {
            let line: Vec<String> = items.iter().map(|i| i.python_str()).collect();
            out.push_str(&line.join("\t"));
            out.push('\n');
        }
    }
}

fn format_dict(
    scalar_keys: Option<&[String]>,
    item: &Json,
    identifier: Option<&str>,
    out: &mut String,
) {
    let Json::Object(members) = item else { return };
    let mut scalars: Vec<String> = Vec::new();
    let mut non_scalars: Vec<(&str, &Json)> = Vec::new();
    match scalar_keys {
        None => {
            let mut sorted: Vec<&(String, Json)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, v) in sorted {
                if v.is_scalar() {
                    scalars.push(v.python_str());
                } else {
                    non_scalars.push((k, v));
                }
            }
        }
        Some(keys) => {
            for k in keys {
                scalars.push(item.get(k).map(|v| v.python_str()).unwrap_or_default());
            }
            let mut rest: Vec<&(String, Json)> =
                members.iter().filter(|(k, _)| !keys.contains(k)).collect();
            rest.sort_by(|a, b| a.0.cmp(&b.0));
            non_scalars.extend(rest.into_iter().map(|(k, v)| (k.as_str(), v)));
        }
    }
    if !scalars.is_empty() {
        if let Some(id) = identifier {
            scalars.insert(0, id.to_uppercase());
        }
        out.push_str(&scalars.join("\t"));
        out.push('\n');
    }
    for (k, v) in non_scalars {
        format_text(v, out, Some(k), None);
    }
}

fn all_scalar_keys(items: &[Json]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for item in items {
        if let Json::Object(members) = item {
            for (k, v) in members {
                if v.is_scalar() && !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
    }
    keys.sort();
    keys
}

// ---- table: awscli's TableFormatter layout ----------------------------------

mod table {
    use super::Json;

    /// One block of the table: an optional title, optional column headers,
    /// rows, at a nesting depth (each level adds a `|` on both sides).
    #[derive(Default)]
    struct Section {
        title: Option<String>,
        depth: usize,
        headers: Vec<String>,
        rows: Vec<Vec<String>>,
    }

    impl Section {
        fn columns(&self) -> usize {
            self.headers
                .len()
                .max(self.rows.iter().map(Vec::len).max().unwrap_or(0))
        }

        /// Natural column widths: the widest cell plus two spaces each side.
        fn widths(&self) -> Vec<usize> {
            let mut widths = vec![0usize; self.columns()];
            for row in std::iter::once(&self.headers).chain(self.rows.iter()) {
                for (i, c) in row.iter().enumerate() {
                    widths[i] = widths[i].max(width(c) + 4);
                }
            }
            widths
        }

        /// The width this section needs inside the outermost borders.
        fn needed(&self) -> usize {
            let w = self.widths();
            let cells = w.iter().sum::<usize>() + w.len().saturating_sub(1);
            cells.max(self.title.as_deref().map_or(0, |t| width(t) + 4)) + 2 * self.depth
        }
    }

    /// Builds sections as awscli's `TableFormatter._build_table` does.
    #[derive(Default)]
    struct Builder {
        sections: Vec<Section>,
    }

    impl Builder {
        fn section(&mut self, title: Option<&str>, depth: usize) {
            self.sections.push(Section {
                title: title.map(str::to_string),
                depth,
                ..Section::default()
            });
        }

        /// The section rows go to; a new one when the depth changes or when
        /// headers follow rows.
        fn target(&mut self, depth: usize, new_headers: bool) -> &mut Section {
            let fresh = match self.sections.last() {
                None => true,
                Some(s) => {
                    s.depth != depth
                        || (new_headers && (!s.rows.is_empty() || !s.headers.is_empty()))
                }
            };
            if fresh {
                self.section(None, depth);
            }
            let last = self.sections.len() - 1;
            &mut self.sections[last]
        }

        fn row(&mut self, depth: usize, row: Vec<String>) {
            self.target(depth, false).rows.push(row);
        }

        fn headed_row(&mut self, depth: usize, headers: Vec<String>, row: Vec<String>) {
            let s = self.target(depth, true);
            s.headers = headers;
            s.rows.push(row);
        }

        fn build(&mut self, title: Option<&str>, current: &Json, depth: usize) {
            match current {
                Json::Array(items) if items.is_empty() => {}
                Json::Object(m) if m.is_empty() => {}
                Json::Array(items) => {
                    if title.is_some() {
                        self.section(title, depth);
                    }
                    if matches!(items.first(), Some(Json::Object(_))) {
                        self.sub_table_from_list(items, depth, title);
                    } else {
                        for item in items {
                            match item {
                                Json::Array(inner) if inner.iter().all(Json::is_scalar) => {
                                    self.row(depth, inner.iter().map(Json::python_str).collect())
                                }
                                s if s.is_scalar() => self.row(depth, vec![s.python_str()]),
                                other => self.build(None, other, depth),
                            }
                        }
                    }
                }
                Json::Object(_) => {
                    if title.is_some() {
                        self.section(title, depth);
                    }
                    self.sub_table_from_dict(current, depth);
                }
                scalar => {
                    if title.is_some() {
                        self.section(title, depth);
                    }
                    self.row(depth, vec![scalar.python_str()]);
                }
            }
        }

        fn sub_table_from_dict(&mut self, current: &Json, depth: usize) {
            let (headers, more) = group_keys(std::slice::from_ref(current));
            let value = |h: &String| current.get(h).map(Json::python_str).unwrap_or_default();
            if headers.len() == 1 {
                self.row(depth, vec![headers[0].clone(), value(&headers[0])]);
            } else if !headers.is_empty() {
                let row = headers.iter().map(value).collect();
                self.headed_row(depth, headers, row);
            }
            for name in more {
                if let Some(v) = current.get(&name) {
                    self.build(Some(&name), v, depth + 1);
                }
            }
        }

        fn sub_table_from_list(&mut self, items: &[Json], depth: usize, title: Option<&str>) {
            let (headers, more) = group_keys(items);
            for (i, element) in items.iter().enumerate() {
                if i > 0 && !more.is_empty() {
                    self.section(title, depth);
                }
                let row = headers
                    .iter()
                    .map(|h| element.get(h).map(Json::python_str).unwrap_or_default())
                    .collect();
                if i == 0 || !more.is_empty() {
                    self.headed_row(depth, headers.clone(), row);
                } else {
                    self.row(depth, row);
                }
                for name in &more {
                    if let Some(v) = element.get(name) {
                        self.build(Some(name), v, depth + 1);
                    }
                }
            }
        }
    }

    /// Scalar member names and the others, each sorted, over all `items`.
    fn group_keys(items: &[Json]) -> (Vec<String>, Vec<String>) {
        let mut headers: Vec<String> = Vec::new();
        let mut more: Vec<String> = Vec::new();
        for item in items {
            if let Json::Object(members) = item {
                for (k, v) in members {
                    let list = if v.is_scalar() {
                        &mut headers
                    } else {
                        &mut more
                    };
                    if !list.contains(k) {
                        list.push(k.clone());
                    }
                }
            }
        }
        headers.sort();
        more.sort();
        (headers, more)
    }

    fn width(s: &str) -> usize {
        s.chars().count()
    }

    fn center(text: &str, w: usize) -> String {
        let pad = w.saturating_sub(width(text));
        let left = pad / 2;
        format!("{}{}{}", " ".repeat(left), text, " ".repeat(pad - left))
    }

    /// Renders `value` under `title` (the operation name).
    pub fn render(value: &Json, title: &str) -> String {
        let mut b = Builder::default();
        b.section(Some(title), 0);
        b.build(None, value, 0);
        let total = b.sections.iter().map(Section::needed).max().unwrap_or(0);

        let mut out = format!("{}\n", "-".repeat(total + 2));
        for s in &b.sections {
            let side = "|".repeat(s.depth);
            let inner = total - 2 * s.depth;
            if let Some(t) = &s.title {
                out.push_str(&format!("{side}|{}|{side}\n", center(t, inner)));
                out.push_str(&format!("{side}+{}+{side}\n", "-".repeat(inner)));
            }
            let cols = s.columns();
            if cols == 0 {
                continue;
            }
            // The natural widths, the last column taking what is left.
            let mut widths = s.widths();
            let used = widths.iter().sum::<usize>() + cols - 1;
            if let Some(last) = widths.last_mut() {
                *last += inner.saturating_sub(used);
            }
            let line = |row: &[String], centered: bool| {
                let cells: Vec<String> = widths
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        let text = row.get(i).map(String::as_str).unwrap_or("");
                        if centered {
                            center(text, *w)
                        } else {
                            format!("  {text}{}", " ".repeat(w.saturating_sub(width(text) + 2)))
                        }
                    })
                    .collect();
                format!("{side}|{}|{side}\n", cells.join("|"))
            };
            let rule = {
                let parts: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                format!("{side}+{}+{side}\n", parts.join("+"))
            };
            if !s.headers.is_empty() {
                out.push_str(&line(&s.headers, true));
                out.push_str(&rule);
            }
            for row in &s.rows {
                out.push_str(&line(row, false));
            }
            out.push_str(&rule);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_python_isoformat() {
        assert_eq!(
            iso_timestamp(1_749_244_507.592).as_deref(),
            Some("2025-06-06T21:15:07.592000+00:00")
        );
        assert_eq!(
            iso_timestamp(1_749_244_507.0).as_deref(),
            Some("2025-06-06T21:15:07+00:00")
        );
        assert_eq!(iso_timestamp(f64::NAN), None);
    }

    #[test]
    fn member_order_survives_parse_and_print() {
        let v = Json::parse(br#"{"b":1,"a":{"z":true,"y":null},"c":[]}"#).unwrap();
        assert_eq!(
            v.to_pretty_json(),
            "{\n    \"b\": 1,\n    \"a\": {\n        \"z\": true,\n        \"y\": null\n    },\n    \"c\": []\n}"
        );
    }

    #[test]
    fn text_output_follows_awscli() {
        let v = Json::parse(br#"{"Keys":[{"KeyId":"k1","KeyArn":"a1"},{"KeyId":"k2","KeyArn":"a2"}],"Truncated":false}"#)
            .unwrap();
        assert_eq!(
            render(&v, OutputFormat::Text, "ListKeys"),
            "False\nKEYS\ta1\tk1\nKEYS\ta2\tk2\n"
        );
        let list = Json::parse(br#"["x","y"]"#).unwrap();
        assert_eq!(render(&list, OutputFormat::Text, ""), "x\ty\n");
    }

    #[test]
    fn query_keeps_member_order() {
        let v = Json::parse(br#"{"KeyMetadata":{"KeyId":"k","Arn":"a","Enabled":true}}"#).unwrap();
        let q = Query::compile("KeyMetadata").unwrap();
        assert_eq!(
            q.apply(&v).unwrap(),
            Json::parse(br#"{"KeyId":"k","Arn":"a","Enabled":true}"#).unwrap()
        );
        let q = Query::compile("KeyMetadata.{Z: Enabled, A: KeyId}").unwrap();
        assert_eq!(
            q.apply(&v).unwrap(),
            Json::parse(br#"{"Z":true,"A":"k"}"#).unwrap()
        );
    }
}
