//! `algocenter generate`: a realistic data set as push-ready JSON Lines files, with its ground truth.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::document::DocumentKind;
use algocenter_generator::graded::{GradedConfig, GradedShop};
use algocenter_generator::query_analysis::{FILLERS, QaConfig, QaWorld};
use algocenter_generator::{
    GeneratorConfig, Habits, Lexicon, LexiconTruth, World, document_record, push_record,
    synonym_groups,
};

use crate::cli::GenerateArgs;

fn create(dir: &Path, name: &str) -> std::io::Result<BufWriter<File>> {
    Ok(BufWriter::with_capacity(
        1 << 20,
        File::create(dir.join(name))?,
    ))
}

fn write_all(args: &GenerateArgs) -> std::io::Result<(u64, World)> {
    std::fs::create_dir_all(&args.out)?;
    let end_ms = args.end_ms.unwrap_or_else(algocenter_domain::now_ms);
    let mut config = GeneratorConfig::for_events(args.events, args.days, end_ms, args.seed);
    // Shapes other than the default growth: a small dense shop, a long-tail catalogue.
    config.items = args.items.unwrap_or(config.items);
    config.users = args.users.unwrap_or(config.users);
    config.queries = args.queries.unwrap_or(config.queries);
    if args.habits == "web" {
        config.habits = Habits::WEB;
    }
    if args.lexicon {
        config.lexicon = Lexicon::SHOP;
    }
    let world = World::new(config);

    let mut items = create(&args.out, "items.jsonl")?;
    for d in world.item_documents() {
        serde_json::to_writer(&mut items, &document_record(DocumentKind::Item, &d))?;
        items.write_all(b"\n")?;
    }
    items.flush()?;
    let mut users = create(&args.out, "users.jsonl")?;
    for d in world.user_documents() {
        serde_json::to_writer(&mut users, &document_record(DocumentKind::User, &d))?;
        users.write_all(b"\n")?;
    }
    users.flush()?;
    let mut truth = create(&args.out, "truth_items.csv")?;
    writeln!(truth, "item_id,category,true_popularity")?;
    for item in world.items() {
        writeln!(
            truth,
            "{},{},{:.6}",
            item.id,
            World::category_path(item.leaf),
            item.quality
        )?;
    }
    truth.flush()?;
    let mut queries = create(&args.out, "truth_queries.csv")?;
    writeln!(queries, "query,category")?;
    for q in world.queries() {
        writeln!(
            queries,
            "\"{}\",{}",
            q.text.replace('"', "\"\""),
            World::category_path(q.leaf)
        )?;
    }
    queries.flush()?;

    let mut events = EventFiles::create(&args.out, args.truth.then_some("p_click"))?;
    let mut typos = create(&args.out, "truth_typos.csv")?;
    writeln!(typos, "user_id,typo_rn,typo,corrected_rn,intended")?;
    let mut lexicon = if args.lexicon {
        Some(LexiconFiles::create(&args.out)?)
    } else {
        None
    };
    let mut typo_failure: Option<std::io::Error> = None;
    let mut lexicon_failure: Option<std::io::Error> = None;
    let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    world.events_with_all_truth(
        &mut |event, p_click| events.write(event, p_click),
        &mut |t| {
            if typo_failure.is_none()
                && let Err(e) = writeln!(
                    typos,
                    "{},{},{},{},{}",
                    quoted(&t.user),
                    quoted(&t.typo_rn),
                    quoted(&t.typo),
                    quoted(&t.corrected_rn),
                    quoted(&t.intended)
                )
            {
                typo_failure = Some(e);
            }
        },
        &mut |truth: LexiconTruth| {
            if let Some(files) = lexicon.as_mut()
                && lexicon_failure.is_none()
                && let Err(e) = files.write(&truth)
            {
                lexicon_failure = Some(e);
            }
        },
    );
    if let Some(e) = typo_failure.or(lexicon_failure) {
        return Err(e);
    }
    let count = events.finish()?;
    typos.flush()?;
    if let Some(files) = lexicon.as_mut() {
        files.flush()?;
    }
    Ok((count, world))
}

/// `behavior.jsonl` and, with a truth column, `truth_exposures.csv` (`rn,item_id,position,<truth>`), written as a
/// generator streams its events. The generators' callbacks cannot fail, so the first error is kept and ends the
/// writing; [`EventFiles::finish`] returns it.
struct EventFiles {
    behaviour: BufWriter<File>,
    exposures: Option<BufWriter<File>>,
    count: u64,
    failure: Option<std::io::Error>,
}

impl EventFiles {
    fn create(dir: &Path, truth_column: Option<&str>) -> std::io::Result<EventFiles> {
        let exposures = match truth_column {
            Some(column) => {
                let mut w = create(dir, "truth_exposures.csv")?;
                writeln!(w, "rn,item_id,position,{column}")?;
                Some(w)
            }
            None => None,
        };
        Ok(EventFiles {
            behaviour: create(dir, "behavior.jsonl")?,
            exposures,
            count: 0,
            failure: None,
        })
    }

    /// One event as a push record, and an exposure's truth when the generator gives one.
    fn write(&mut self, event: &BehaviourEvent, truth: Option<f64>) {
        if self.failure.is_some() {
            return;
        }
        let written = serde_json::to_writer(&mut self.behaviour, &push_record(event))
            .map_err(std::io::Error::other)
            .and_then(|_| self.behaviour.write_all(b"\n"))
            .and_then(|_| match (self.exposures.as_mut(), truth) {
                (Some(w), Some(truth)) => writeln!(
                    w,
                    "{},{},{},{truth:.6}",
                    event.rn,
                    event.item_id,
                    event.position.unwrap_or(0)
                ),
                _ => Ok(()),
            });
        match written {
            Ok(()) => self.count += 1,
            Err(e) => self.failure = Some(e),
        }
    }

    /// Flushes both files; the events written, or the first error.
    fn finish(mut self) -> std::io::Result<u64> {
        if let Some(e) = self.failure {
            return Err(e);
        }
        self.behaviour.flush()?;
        if let Some(w) = self.exposures.as_mut() {
            w.flush()?;
        }
        Ok(self.count)
    }
}

/// The query-analysis shop (`--query-analysis`): items, behaviour and `truth_terms.csv`.
fn write_query_analysis(args: &GenerateArgs) -> std::io::Result<(u64, QaConfig)> {
    std::fs::create_dir_all(&args.out)?;
    let searches = (args.events / 12).max(1);
    let world = QaWorld::new(QaConfig {
        seed: args.seed,
        end_ms: args.end_ms.unwrap_or_else(algocenter_domain::now_ms),
        days: args.days,
        searches,
        items: args
            .items
            .unwrap_or((searches / 15).clamp(500, 200_000) as u32),
        users: args.users.unwrap_or((searches / 8).max(100) as u32),
        queries: args
            .queries
            .unwrap_or((searches / 10).clamp(200, 500_000) as u32),
    });
    let mut items = create(&args.out, "items.jsonl")?;
    for d in world.item_documents() {
        serde_json::to_writer(&mut items, &document_record(DocumentKind::Item, &d))?;
        items.write_all(b"\n")?;
    }
    items.flush()?;
    let mut truth = create(&args.out, "truth_terms.csv")?;
    writeln!(truth, "term,kind")?;
    for w in QaWorld::true_words() {
        writeln!(truth, "{w},word")?;
    }
    for n in QaWorld::true_names() {
        writeln!(truth, "{n},name")?;
    }
    for f in FILLERS {
        writeln!(truth, "{f},filler")?;
    }
    truth.flush()?;
    let mut events = EventFiles::create(&args.out, None)?;
    world.events(&mut |event| events.write(event, None));
    Ok((events.finish()?, world.config().clone()))
}

/// The graded shop (`--graded`): items, behaviour and, with `--truth`, each exposure's expected grade.
fn write_graded(args: &GenerateArgs) -> std::io::Result<(u64, GradedConfig)> {
    std::fs::create_dir_all(&args.out)?;
    let end_ms = args.end_ms.unwrap_or_else(algocenter_domain::now_ms);
    let mut config = GradedConfig::for_events(args.events, args.days, end_ms, args.seed);
    config.items = args.items.unwrap_or(config.items);
    config.users = args.users.unwrap_or(config.users);
    let shop = GradedShop::new(config.clone());
    let mut items = create(&args.out, "items.jsonl")?;
    for d in shop.item_documents() {
        serde_json::to_writer(&mut items, &document_record(DocumentKind::Item, &d))?;
        items.write_all(b"\n")?;
    }
    items.flush()?;
    let mut events = EventFiles::create(&args.out, args.truth.then_some("expected_grade"))?;
    shop.events(&mut |event, grade| events.write(event, grade));
    Ok((events.finish()?, config))
}

/// The truth of the vocabulary habits (`--lexicon`).
struct LexiconFiles {
    synonym_searches: BufWriter<File>,
    misspellings: BufWriter<File>,
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

impl LexiconFiles {
    fn create(dir: &Path) -> std::io::Result<Self> {
        let mut groups = create(dir, "truth_synonyms.csv")?;
        writeln!(groups, "group,word")?;
        for (n, group) in synonym_groups().iter().enumerate() {
            for word in group {
                writeln!(groups, "{n},{}", quoted(word))?;
            }
        }
        groups.flush()?;
        let mut synonym_searches = create(dir, "truth_synonym_searches.csv")?;
        writeln!(synonym_searches, "user_id,rn,typed,meant,reformulated")?;
        let mut misspellings = create(dir, "truth_misspellings.csv")?;
        writeln!(
            misspellings,
            "user_id,typo_rn,typo,corrected_rn,intended,kind"
        )?;
        Ok(LexiconFiles {
            synonym_searches,
            misspellings,
        })
    }

    fn write(&mut self, truth: &LexiconTruth) -> std::io::Result<()> {
        match truth {
            LexiconTruth::Synonym(s) => writeln!(
                self.synonym_searches,
                "{},{},{},{},{}",
                quoted(&s.user),
                quoted(&s.rn),
                quoted(&s.typed),
                quoted(&s.meant),
                s.reformulated
            ),
            LexiconTruth::Misspelling(m) => writeln!(
                self.misspellings,
                "{},{},{},{},{},{}",
                quoted(&m.user),
                quoted(&m.typo_rn),
                quoted(&m.typo),
                quoted(&m.corrected_rn),
                quoted(&m.intended),
                m.kind.as_str()
            ),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.synonym_searches.flush()?;
        self.misspellings.flush()
    }
}

pub fn run(args: GenerateArgs) -> ExitCode {
    let started = Instant::now();
    // Each shape writes its files and says what it wrote.
    let written = if args.query_analysis {
        write_query_analysis(&args).map(|(events, c)| {
            format!(
                "{events} behaviour events ({} searches), {} items, {} queries (query-analysis shop)",
                c.searches, c.items, c.queries
            )
        })
    } else if args.graded {
        write_graded(&args).map(|(events, c)| {
            format!(
                "{events} behaviour events ({} searches), {} items, {} users (graded shop)",
                c.searches, c.items, c.users
            )
        })
    } else {
        write_all(&args).map(|(events, world)| {
            let c = world.config();
            format!(
                "{events} behaviour events ({} searches), {} items, {} users, {} queries",
                c.searches, c.items, c.users, c.queries
            )
        })
    };
    match written {
        Ok(what) => {
            println!(
                "wrote {what} to {} in {:.1} s",
                args.out.display(),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: writing to {}: {e}", args.out.display());
            ExitCode::from(1)
        }
    }
}
