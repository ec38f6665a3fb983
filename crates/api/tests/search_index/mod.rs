//! A real BM25 engine for retrieval checks: documents indexed in RAM by tantivy (k1 1.2, b 0.75, per-field
//! length norms, as Elasticsearch scores), searched with Elasticsearch / OpenSearch query DSL as an app would
//! send it, and recall@k of the items a user clicked.
//!
//! ```ignore
//! let index = SearchIndex::build(&["title", "brand"], analyzer, documents)?;
//! let top = index.search(&json!({"bool": {"must": [...], "should": [...]}}), 10)?;
//! let r = recall(&top, &clicked);
//! ```
//!
//! The DSL is translated clause by clause with Elasticsearch's semantics, so that a check judges the query an
//! engine would run, not a reading of it: `bool` (`must`, `should`, `filter`, `must_not`,
//! `minimum_should_match` as a count or a percentage, `boost`), `match` and `match_phrase` (the text analysed
//! by the field's analyzer; `operator`, `minimum_should_match`, `boost`), `multi_match` (`best_fields`: the
//! best field's score plus `tie_breaker` times the others'; `most_fields`: their sum; `phrase`; `title^3`
//! field boosts), `dis_max`, `term`, `match_all`. Anything else — another clause, an option not listed, a
//! field not indexed — is an error rather than ignored, so that a rewrite that grows a new clause fails loudly
//! until this translation learns it.
//!
//! Every field is analysed by one [`Analyzer`], for documents and for query text alike, as an index whose
//! fields all use one custom analyzer; [`jieba_with_dictionary`] is the one an Elasticsearch index with a
//! jieba analyzer and algocenter's exported dictionary has.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::sync::Arc;

use jieba_rs::Jieba;
use serde_json::{Map, Value};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, EmptyQuery, Occur,
    PhraseQuery, Query, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value as _,
};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{Index, IndexReader, IndexWriter, TantivyDocument, Term};

/// Text → terms, in order: what the index stores and what query text is looked up as.
pub type Analyzer = Arc<dyn Fn(&str) -> Vec<String> + Send + Sync>;

/// A query this translation does not know, or a document or index the engine refused.
#[derive(Debug)]
pub struct SearchError(pub String);

impl std::fmt::Display for SearchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        SearchError(format!("tantivy: {e}"))
    }
}

fn refused(what: impl std::fmt::Display) -> SearchError {
    SearchError(what.to_string())
}

/// Lower case, then jieba (without its HMM) with a user dictionary in jieba's `word freq tag` format;
/// separators and punctuation are dropped. A name of several words stays several terms at consecutive
/// positions, as in an index whose dictionary cannot hold a space: a query finds it as a phrase.
pub fn jieba_with_dictionary(dictionary: &str) -> Result<Analyzer, SearchError> {
    let mut jieba = Jieba::new();
    jieba
        .load_dict(&mut BufReader::new(dictionary.as_bytes()))
        .map_err(|e| refused(format_args!("the dictionary: {e}")))?;
    Ok(Arc::new(move |text: &str| {
        let folded = text.to_lowercase();
        jieba
            .cut(&folded, false)
            .into_iter()
            .filter(|t| t.word.chars().any(char::is_alphanumeric))
            .map(|t| t.word.to_string())
            .collect()
    }))
}

/// The [`Analyzer`] as tantivy's tokenizer.
#[derive(Clone)]
struct Tokens(Analyzer);

struct TermStream {
    terms: Vec<String>,
    next: usize,
    token: Token,
}

impl Tokenizer for Tokens {
    type TokenStream<'a> = TermStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> TermStream {
        TermStream {
            terms: (self.0)(text),
            next: 0,
            token: Token::default(),
        }
    }
}

impl TokenStream for TermStream {
    fn advance(&mut self) -> bool {
        let Some(text) = self.terms.get_mut(self.next) else {
            return false;
        };
        self.token.text = std::mem::take(text);
        self.token.position = self.next;
        self.next += 1;
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// Documents in an in-RAM tantivy index, searched with query DSL.
pub struct SearchIndex {
    fields: BTreeMap<String, Field>,
    id: Field,
    reader: IndexReader,
    analyzer: Analyzer,
    documents: usize,
}

const TOKENIZER: &str = "analyzer";

impl SearchIndex {
    /// Indexes `documents` (an id and `(field, text)` pairs, every field one of `fields`).
    pub fn build<'a>(
        fields: &[&str],
        analyzer: Analyzer,
        documents: impl IntoIterator<Item = (String, Vec<(&'a str, String)>)>,
    ) -> Result<SearchIndex, SearchError> {
        let mut schema = Schema::builder();
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let named: BTreeMap<String, Field> = fields
            .iter()
            .map(|f| (f.to_string(), schema.add_text_field(f, text.clone())))
            .collect();
        let id = schema.add_text_field("_id", STRING | STORED);
        let index = Index::create_in_ram(schema.build());
        index
            .tokenizers()
            .register(TOKENIZER, Tokens(Arc::clone(&analyzer)));
        // One thread and one commit: one segment, so every term's statistics are the whole index's.
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 50_000_000)?;
        let mut count = 0;
        for (doc_id, values) in documents {
            let mut doc = TantivyDocument::new();
            doc.add_text(id, &doc_id);
            for (name, value) in values {
                let field = named
                    .get(name)
                    .ok_or_else(|| refused(format_args!("document {doc_id}: no field {name}")))?;
                doc.add_text(*field, value);
            }
            writer.add_document(doc)?;
            count += 1;
        }
        writer.commit()?;
        let reader = index.reader()?;
        Ok(SearchIndex {
            fields: named,
            id,
            reader,
            analyzer,
            documents: count,
        })
    }

    pub fn len(&self) -> usize {
        self.documents
    }

    /// The ids of the best `k` documents for a query DSL object, best first (ties in index order).
    pub fn search(&self, dsl: &Value, k: usize) -> Result<Vec<String>, SearchError> {
        let query = self.query(dsl)?;
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(k).order_by_score())?;
        top.into_iter()
            .map(|(_, address)| {
                let doc: TantivyDocument = searcher.doc(address)?;
                doc.get_first(self.id)
                    .and_then(|v| v.as_str().map(str::to_string))
                    .ok_or_else(|| refused("a document without its id"))
            })
            .collect()
    }

    /// How many documents a query DSL object matches.
    pub fn count(&self, dsl: &Value) -> Result<usize, SearchError> {
        let query = self.query(dsl)?;
        Ok(self.reader.searcher().search(&query, &Count)?)
    }

    /// The tantivy query of one DSL clause.
    fn query(&self, dsl: &Value) -> Result<Box<dyn Query>, SearchError> {
        let (kind, body) = single(dsl, "a query clause")?;
        match kind {
            "bool" => self.boolean(body),
            "match" => self.match_clause(body, false),
            "match_phrase" => self.match_clause(body, true),
            "multi_match" => self.multi_match(body),
            "dis_max" => self.dis_max(body),
            "term" => self.term(body),
            "match_all" => {
                let options = Options::of(body, &["boost"])?;
                Ok(boosted(Box::new(AllQuery), options.boost()?))
            }
            other => Err(refused(format_args!("unknown query clause {other}"))),
        }
    }

    fn boolean(&self, body: &Value) -> Result<Box<dyn Query>, SearchError> {
        let options = Options::of(
            body,
            &[
                "must",
                "should",
                "filter",
                "must_not",
                "minimum_should_match",
                "boost",
            ],
        )?;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut should = 0;
        for (key, occur) in [
            ("must", Occur::Must),
            ("filter", Occur::Must),
            ("should", Occur::Should),
            ("must_not", Occur::MustNot),
        ] {
            for clause in options.clauses(key)? {
                let mut query = self.query(clause)?;
                if key == "filter" {
                    // A filter decides which documents match and adds nothing to their score.
                    query = Box::new(ConstScoreQuery::new(query, 0.0));
                }
                should += usize::from(occur == Occur::Should);
                clauses.push((occur, query));
            }
        }
        let required = clauses.iter().any(|(o, _)| *o == Occur::Must);
        if !required && should == 0 {
            // Nothing but exclusions (or nothing at all): every other document matches, scored 1.
            clauses.push((Occur::Must, Box::new(AllQuery)));
            return Ok(boosted(
                Box::new(BooleanQuery::new(clauses)),
                options.boost()?,
            ));
        }
        // Elasticsearch: 1 when there are should clauses and nothing required, else 0; and a bool of should
        // clauses alone never matches a document that matches none of them.
        let minimum = match options.get("minimum_should_match") {
            Some(m) => minimum_should_match(m, should)?,
            None => usize::from(!required && should > 0),
        };
        let minimum = if required { minimum } else { minimum.max(1) };
        Ok(boosted(
            Box::new(BooleanQuery::with_minimum_required_clauses(
                clauses, minimum,
            )),
            options.boost()?,
        ))
    }

    /// `match` / `match_phrase`: `{"field": "text"}` or `{"field": {"query": …, options}}`.
    fn match_clause(&self, body: &Value, phrase: bool) -> Result<Box<dyn Query>, SearchError> {
        let (field, spec) = single(body, "a match clause")?;
        let (text, options) = match spec {
            Value::String(text) => (text.as_str(), Options::default()),
            Value::Object(_) => {
                let allowed: &[&str] = if phrase {
                    &["query", "boost"]
                } else {
                    &["query", "operator", "minimum_should_match", "boost"]
                };
                let options = Options::of(spec, allowed)?;
                (options.text("query")?, options)
            }
            other => return Err(refused(format_args!("match on {field}: {other}"))),
        };
        let query = if phrase {
            self.phrase(field, text)?
        } else {
            self.analysed(field, text, &options)?
        };
        Ok(boosted(query, options.boost()?))
    }

    /// The text analysed into terms of one field: one term query, or a bool of them by `operator`.
    fn analysed(
        &self,
        field: &str,
        text: &str,
        options: &Options,
    ) -> Result<Box<dyn Query>, SearchError> {
        let field = self.field(field)?;
        let mut terms: Vec<Box<dyn Query>> = (self.analyzer)(text)
            .iter()
            .map(|t| term_query(field, t))
            .collect();
        let and = match options.get("operator").map(Value::as_str) {
            None => false,
            Some(Some(o)) if o.eq_ignore_ascii_case("or") => false,
            Some(Some(o)) if o.eq_ignore_ascii_case("and") => true,
            Some(other) => return Err(refused(format_args!("operator {other:?}"))),
        };
        match terms.len() {
            // No term left: Elasticsearch's zero_terms_query `none`.
            0 => Ok(Box::new(EmptyQuery)),
            1 => Ok(terms.remove(0)),
            n => {
                let occur = if and { Occur::Must } else { Occur::Should };
                let minimum = match options.get("minimum_should_match") {
                    Some(m) if !and => minimum_should_match(m, n)?.max(1),
                    _ => usize::from(!and),
                };
                let clauses = terms.into_iter().map(|t| (occur, t)).collect();
                Ok(Box::new(BooleanQuery::with_minimum_required_clauses(
                    clauses, minimum,
                )))
            }
        }
    }

    /// The text analysed into a phrase of one field: its terms at consecutive positions.
    fn phrase(&self, field: &str, text: &str) -> Result<Box<dyn Query>, SearchError> {
        let field = self.field(field)?;
        let terms = (self.analyzer)(text);
        Ok(match terms.as_slice() {
            [] => Box::new(EmptyQuery),
            [one] => term_query(field, one),
            _ => Box::new(PhraseQuery::new(
                terms
                    .iter()
                    .map(|t| Term::from_field_text(field, t))
                    .collect(),
            )),
        })
    }

    fn multi_match(&self, body: &Value) -> Result<Box<dyn Query>, SearchError> {
        let options = Options::of(
            body,
            &[
                "query",
                "fields",
                "type",
                "operator",
                "minimum_should_match",
                "tie_breaker",
                "boost",
            ],
        )?;
        let text = options.text("query")?;
        let kind = match options.get("type") {
            None => "best_fields",
            Some(t) => t
                .as_str()
                .ok_or_else(|| refused(format_args!("multi_match type {t}")))?,
        };
        let fields = options
            .get("fields")
            .and_then(Value::as_array)
            .ok_or_else(|| refused("multi_match without a list of fields"))?;
        let mut per_field: Vec<Box<dyn Query>> = Vec::new();
        for f in fields {
            let f = f
                .as_str()
                .ok_or_else(|| refused(format_args!("a field {f}")))?;
            let (name, field_boost) = match f.split_once('^') {
                Some((name, b)) => (
                    name,
                    b.parse::<f32>()
                        .map_err(|_| refused(format_args!("field boost {f}")))?,
                ),
                None => (f, 1.0),
            };
            let query = match kind {
                "best_fields" | "most_fields" => self.analysed(name, text, &options)?,
                "phrase" => self.phrase(name, text)?,
                other => return Err(refused(format_args!("multi_match type {other}"))),
            };
            per_field.push(boosted(query, field_boost));
        }
        let query: Box<dyn Query> = if kind == "most_fields" {
            Box::new(BooleanQuery::new(
                per_field.into_iter().map(|q| (Occur::Should, q)).collect(),
            ))
        } else {
            let tie = options.number("tie_breaker")?.unwrap_or(0.0);
            Box::new(DisjunctionMaxQuery::with_tie_breaker(per_field, tie))
        };
        Ok(boosted(query, options.boost()?))
    }

    fn dis_max(&self, body: &Value) -> Result<Box<dyn Query>, SearchError> {
        let options = Options::of(body, &["queries", "tie_breaker", "boost"])?;
        let queries = options
            .clauses("queries")?
            .into_iter()
            .map(|q| self.query(q))
            .collect::<Result<Vec<_>, _>>()?;
        let tie = options.number("tie_breaker")?.unwrap_or(0.0);
        Ok(boosted(
            Box::new(DisjunctionMaxQuery::with_tie_breaker(queries, tie)),
            options.boost()?,
        ))
    }

    /// `term`: the value as one term, not analysed.
    fn term(&self, body: &Value) -> Result<Box<dyn Query>, SearchError> {
        let (field, spec) = single(body, "a term clause")?;
        let (value, options) = match spec {
            Value::Object(_) => {
                let options = Options::of(spec, &["value", "boost"])?;
                (options.text("value")?.to_string(), options)
            }
            Value::String(s) => (s.clone(), Options::default()),
            other => return Err(refused(format_args!("term on {field}: {other}"))),
        };
        Ok(boosted(
            term_query(self.field(field)?, &value),
            options.boost()?,
        ))
    }

    fn field(&self, name: &str) -> Result<Field, SearchError> {
        self.fields
            .get(name)
            .copied()
            .ok_or_else(|| refused(format_args!("field {name} is not indexed")))
    }
}

/// Share of `relevant` found in `top` (0 when nothing is relevant).
pub fn recall(top: &[String], relevant: &[String]) -> f64 {
    if relevant.is_empty() {
        return 0.0;
    }
    let found = relevant.iter().filter(|r| top.contains(r)).count();
    found as f64 / relevant.len() as f64
}

fn term_query(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

fn boosted(query: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    if boost == 1.0 {
        query
    } else {
        Box::new(BoostQuery::new(query, boost))
    }
}

/// The one key of an object such as `{"bool": {…}}` or `{"title": {…}}`, and its value.
fn single<'a>(value: &'a Value, what: &str) -> Result<(&'a str, &'a Value), SearchError> {
    match value.as_object().map(|o| (o.len(), o.iter().next())) {
        Some((1, Some((key, body)))) => Ok((key.as_str(), body)),
        _ => Err(refused(format_args!(
            "{what} must be an object of one key: {value}"
        ))),
    }
}

/// `minimum_should_match` of Elasticsearch: a count (`2`, `"-1"`) or a percentage (`"75%"`, `"-25%"`) of
/// `should` clauses, rounded down, never more than there are.
fn minimum_should_match(value: &Value, should: usize) -> Result<usize, SearchError> {
    let bad = || refused(format_args!("minimum_should_match {value}"));
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return Err(bad()),
    };
    let n = should as i64;
    let wanted = match text.strip_suffix('%') {
        Some(percent) => {
            let p: i64 = percent.parse().map_err(|_| bad())?;
            let part = n * p.abs() / 100;
            if p < 0 { n - part } else { part }
        }
        None => {
            let c: i64 = text.parse().map_err(|_| bad())?;
            if c < 0 { n + c } else { c }
        }
    };
    Ok(wanted.clamp(0, n) as usize)
}

/// The options of a clause, every key checked against those the translation knows.
#[derive(Default)]
struct Options<'a>(Option<&'a Map<String, Value>>);

impl<'a> Options<'a> {
    fn of(body: &'a Value, allowed: &[&str]) -> Result<Options<'a>, SearchError> {
        let object = body
            .as_object()
            .ok_or_else(|| refused(format_args!("options must be an object: {body}")))?;
        if let Some(unknown) = object
            .keys()
            .find(|k| !allowed.contains(&String::as_str(k)))
        {
            return Err(refused(format_args!(
                "option {unknown} is not translated (known: {allowed:?})"
            )));
        }
        Ok(Options(Some(object)))
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.and_then(|o| o.get(key))
    }

    fn text(&self, key: &str) -> Result<&'a str, SearchError> {
        self.get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| refused(format_args!("{key} must be a string")))
    }

    fn number(&self, key: &str) -> Result<Option<f32>, SearchError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(|f| Some(f as f32))
                .ok_or_else(|| refused(format_args!("{key} must be a number: {v}"))),
        }
    }

    fn boost(&self) -> Result<f32, SearchError> {
        Ok(self.number("boost")?.unwrap_or(1.0))
    }

    /// A clause list: one clause or an array of them; none when absent.
    fn clauses(&self, key: &str) -> Result<Vec<&'a Value>, SearchError> {
        Ok(match self.get(key) {
            None => Vec::new(),
            Some(Value::Array(list)) => list.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            Some(other) => return Err(refused(format_args!("{key}: {other}"))),
        })
    }
}
