//! Metric charts: each numeric metric of the successful generations' `ExtendInfo`, as an SVG line chart laid out
//! here (coordinates only; the template draws them), so the page needs no chart library.

use std::collections::BTreeMap;

use algocenter_domain::Function;
use serde_json::Value;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
/// Generations labelled on the x axis at most (the rest are reachable by hovering a point).
const MAX_X_LABELS: usize = 12;

/// The metric a function's chart shows first: its main held-out quality figure (README, "Functions").
pub fn headline_metric(function: Function) -> &'static str {
    match function {
        Function::Ctr => "auc_within_position",
        Function::Pop => "spearman",
        Function::Hot => "holdout_top10_overlap",
        Function::Hint => "holdout_coverage_at_3",
        Function::Suggest => "mrr",
        Function::Category => "recall_at_3",
        Function::Analyzer => "holdout_searches_with_lexicon_word",
        Function::Termweight => "spearman",
        Function::Correction => "precision_level1_unseen",
        Function::Synonym => "holdout_precision",
        Function::Rank => "ndcg_at_10",
    }
}

#[derive(Clone, Debug)]
pub struct Point {
    pub generation: i64,
    pub value: f64,
    pub x: f64,
    pub y: f64,
    /// Shown when hovering the point.
    pub label: String,
}

#[derive(Clone, Debug)]
pub struct Tick {
    pub at: f64,
    pub label: String,
}

#[derive(Clone, Debug)]
pub struct Chart {
    pub metric: String,
    pub points: Vec<Point>,
    /// `x,y x,y …` for the SVG polyline.
    pub line: String,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    pub width: f64,
    pub height: f64,
    pub plot_left: f64,
    pub plot_right: f64,
    pub plot_top: f64,
    pub plot_bottom: f64,
}

/// One chart per numeric metric found in the given `(generation, ExtendInfo)` pairs, the function's headline
/// metric first, then by name. Generations without a metric are skipped in its chart.
pub fn charts(function: Function, generations: &[(i64, &str)]) -> Vec<Chart> {
    let mut series: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for (generation, info) in generations {
        let Ok(Value::Object(metrics)) = serde_json::from_str::<Value>(info) else {
            continue;
        };
        for (name, value) in metrics {
            // Booleans (quality_gate_passed) and lists (per-epoch losses) are not charted.
            if let Value::Number(n) = value
                && let Some(v) = n.as_f64().filter(|v| v.is_finite())
            {
                series.entry(name).or_default().push((*generation, v));
            }
        }
    }
    let headline = headline_metric(function);
    let mut charts: Vec<Chart> = series
        .into_iter()
        .map(|(metric, mut values)| {
            values.sort_by_key(|(g, _)| *g);
            layout(metric, &values)
        })
        .collect();
    charts.sort_by_key(|c| c.metric != headline);
    charts
}

fn layout(metric: String, values: &[(i64, f64)]) -> Chart {
    let (plot_left, plot_right) = (LEFT, WIDTH - RIGHT);
    let (plot_top, plot_bottom) = (TOP, HEIGHT - BOTTOM);
    let first = values.first().map_or(0, |v| v.0);
    let last = values.last().map_or(0, |v| v.0);
    let (mut low, mut high) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    if !low.is_finite() {
        (low, high) = (0.0, 1.0);
    }
    if high - low < 1e-12 {
        // A flat series: give it a band around its value so that the line sits in the middle.
        let pad = if low.abs() > 1e-12 {
            low.abs() * 0.1
        } else {
            1.0
        };
        (low, high) = (low - pad, high + pad);
    } else {
        let pad = (high - low) * 0.08;
        (low, high) = (low - pad, high + pad);
    }
    let x_of = |generation: i64| {
        if last == first {
            (plot_left + plot_right) / 2.0
        } else {
            plot_left
                + (generation - first) as f64 / (last - first) as f64 * (plot_right - plot_left)
        }
    };
    let y_of = |value: f64| plot_bottom - (value - low) / (high - low) * (plot_bottom - plot_top);
    let points: Vec<Point> = values
        .iter()
        .map(|&(generation, value)| Point {
            generation,
            value,
            x: round(x_of(generation)),
            y: round(y_of(value)),
            label: format!("generation {generation}: {}", number(value)),
        })
        .collect();
    let line = points
        .iter()
        .map(|p| format!("{},{}", p.x, p.y))
        .collect::<Vec<_>>()
        .join(" ");
    let step = points.len().div_ceil(MAX_X_LABELS).max(1);
    let x_ticks = points
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0 || *i + 1 == points.len())
        .map(|(_, p)| Tick {
            at: p.x,
            label: p.generation.to_string(),
        })
        .collect();
    let y_ticks = (0..=3)
        .map(|i| {
            let value = low + (high - low) * i as f64 / 3.0;
            Tick {
                at: round(y_of(value)),
                label: number(value),
            }
        })
        .collect();
    Chart {
        metric,
        points,
        line,
        x_ticks,
        y_ticks,
        width: WIDTH,
        height: HEIGHT,
        plot_left,
        plot_right,
        plot_top,
        plot_bottom,
    }
}

/// Most bars of a feature-importance chart.
const MAX_BARS: usize = 20;
const BAR_HEIGHT: f64 = 18.0;
const BAR_GAP: f64 = 6.0;
const LABEL_WIDTH: f64 = 190.0;

/// One bar: a feature and its share of the model's split gain.
#[derive(Clone, Debug)]
pub struct Bar {
    pub name: String,
    pub share: f64,
    pub y: f64,
    pub width: f64,
    pub label: String,
}

/// The feature importances of a generation as horizontal bars, largest first.
#[derive(Clone, Debug)]
pub struct Bars {
    pub generation: i64,
    pub bars: Vec<Bar>,
    /// Features not drawn (past [`MAX_BARS`]).
    pub more: usize,
    pub width: f64,
    pub height: f64,
    pub bar_left: f64,
    pub bar_height: f64,
}

/// The feature importances (`feature_importance`, an object of shares) of the newest generation that reports
/// them; `None` when none does.
pub fn importance(generations: &[(i64, &str)]) -> Option<Bars> {
    let (generation, shares) = generations
        .iter()
        .filter_map(|(generation, info)| {
            let value: Value = serde_json::from_str(info).ok()?;
            let shares: Vec<(String, f64)> = value
                .get("feature_importance")?
                .as_object()?
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_f64().filter(|v| v.is_finite())?)))
                .collect();
            (!shares.is_empty()).then_some((*generation, shares))
        })
        .max_by_key(|(generation, _)| *generation)?;
    let mut shares = shares;
    shares.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let more = shares.len().saturating_sub(MAX_BARS);
    shares.truncate(MAX_BARS);
    let largest = shares.first().map_or(1.0, |s| s.1).max(1e-12);
    let bar_room = WIDTH - LABEL_WIDTH - 60.0;
    let bars = shares
        .into_iter()
        .enumerate()
        .map(|(i, (name, share))| Bar {
            label: format!("{name}: {}", number(share)),
            y: round(TOP + i as f64 * (BAR_HEIGHT + BAR_GAP)),
            width: round((share.max(0.0) / largest * bar_room).max(1.0)),
            name,
            share,
        })
        .collect::<Vec<_>>();
    let height = TOP + bars.len() as f64 * (BAR_HEIGHT + BAR_GAP) + TOP;
    Some(Bars {
        generation,
        bars,
        more,
        width: WIDTH,
        height,
        bar_left: LABEL_WIDTH,
        bar_height: BAR_HEIGHT,
    })
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A metric value for people: integers as integers, fractions with four significant decimals.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_chart_per_numeric_metric_headline_first_points_in_generation_order() {
        let infos = [
            (
                3,
                r#"{"auc": 0.80, "auc_within_position": 0.62, "examples": 100, "errors": [], "quality_gate_passed": true}"#,
            ),
            (
                1,
                r#"{"auc": 0.70, "auc_within_position": 0.58, "examples": 90, "epoch_loss": [0.5, 0.4]}"#,
            ),
            (2, "not json"),
            (4, r#"{"examples": 120}"#),
        ];
        let charts = charts(Function::Ctr, &infos);
        let names: Vec<&str> = charts.iter().map(|c| c.metric.as_str()).collect();
        // ctr's headline is the metric position cannot game, ahead of the alphabetical rest.
        assert_eq!(names, ["auc_within_position", "auc", "examples"]);
        let auc = &charts[0];
        let generations: Vec<i64> = auc.points.iter().map(|p| p.generation).collect();
        assert_eq!(generations, [1, 3]);
        // Higher values are drawn higher (smaller y), and x follows the generation.
        assert!(auc.points[1].y < auc.points[0].y && auc.points[1].x > auc.points[0].x);
        assert!(
            auc.points
                .iter()
                .all(|p| (auc.plot_top..=auc.plot_bottom).contains(&p.y))
        );
        assert_eq!(charts[2].points.len(), 3);
        assert_eq!(auc.line.split(' ').count(), 2);
    }

    #[test]
    fn a_single_or_flat_series_stays_inside_the_plot() {
        for values in [
            vec![(1, 5.0)],
            vec![(1, 0.0), (2, 0.0)],
            vec![(7, -3.0), (9, -3.0)],
        ] {
            let chart = layout("m".into(), &values);
            for p in &chart.points {
                assert!(
                    p.x >= chart.plot_left && p.x <= chart.plot_right,
                    "{values:?}"
                );
                assert!(
                    p.y > chart.plot_top && p.y < chart.plot_bottom,
                    "{values:?}"
                );
            }
        }
    }

    #[test]
    fn importance_bars_of_the_newest_generation_largest_first() {
        let infos = [
            (
                1,
                r#"{"feature_importance": {"price": 0.9, "rating": 0.1}}"#,
            ),
            (
                3,
                r#"{"feature_importance": {"price": 0.2, "rating": 0.5, "sales": 0.3}, "ndcg_at_10": 0.6}"#,
            ),
            (4, r#"{"ndcg_at_10": 0.7}"#),
        ];
        let bars = importance(&infos).unwrap();
        assert_eq!(bars.generation, 3);
        let names: Vec<&str> = bars.bars.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["rating", "sales", "price"]);
        // Widths follow the shares; rows go down.
        assert!((bars.bars[0].width / bars.bars[2].width - 2.5).abs() < 0.01);
        assert!(bars.bars.windows(2).all(|w| w[0].y < w[1].y));
        assert!(
            bars.bars
                .iter()
                .all(|b| bars.bar_left + b.width <= bars.width)
        );
        assert!(importance(&[(1, r#"{"auc": 0.8}"#)]).is_none());
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(12.0), "12");
        assert_eq!(number(0.83412), "0.8341");
        assert_eq!(number(1234.56), "1234.6");
    }
}
