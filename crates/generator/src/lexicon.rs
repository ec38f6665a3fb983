//! Vocabulary habits of the generated users, switched on by [`Lexicon`] in the generator's configuration (off by
//! default, so that the shop's data stay as they were):
//!
//! - **Synonyms.** Many concepts have two vocabularies: the catalogue's word and the words users also type for
//!   it (`sneakers` and `trainers`, `运动鞋` and `球鞋`), in English and in Chinese. [`synonym_groups`] lists
//!   them: every word of a group names the leaf category of its concept (the English and Chinese names of a leaf
//!   are one group too). With `synonym_share` a search is typed with another word of its group; with
//!   `reformulate_share` of those the user finds little, clicks nothing and retypes the catalogue's word 10 to 90
//!   seconds later. With `alt_title_share` an item's title uses another word of its group (the catalogue's text
//!   aligned with the users' words).
//! - **Misspellings.** With `misspell_share` a session starts with a misspelled search that finds little and
//!   gets no click; the user searches what they meant 10 seconds to 2 minutes later, and that search gets the
//!   clicks. Latin-script queries get one typo (a letter replaced by a keyboard neighbour, dropped, doubled, or
//!   two letters swapped; never the first letter), Chinese ones a character replaced by a homophone (`连衣裙` →
//!   `连衣群`) or the whole query typed as pinyin (`lianyiqun`, the input method left off).
//!
//! The truth of each ([`LexiconTruth`]) reaches the caller of [`crate::World::events_with_lexicon`]. The habits
//! draw from their own random stream: turning them on changes the text of some searches and adds searches, never
//! which queries sessions are for or what they click.

use pinyin::ToPinyin;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::words;

/// Which vocabulary habits the generated users have, as shares.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lexicon {
    /// Share of searches for a concept with other words that are typed with one of them.
    pub synonym_share: f64,
    /// Share of those searches abandoned and retyped with the catalogue's word.
    pub reformulate_share: f64,
    /// Share of sessions that start with a misspelled search.
    pub misspell_share: f64,
    /// Share of item titles that use another word of their concept's group.
    pub alt_title_share: f64,
}

impl Lexicon {
    /// No habit: users type the catalogue's words, and type them right.
    pub const OFF: Lexicon = Lexicon {
        synonym_share: 0.0,
        reformulate_share: 0.0,
        misspell_share: 0.0,
        alt_title_share: 0.0,
    };

    /// A shop's users: a third of searches for a concept with synonyms use one, one session in sixteen starts
    /// with a misspelling.
    pub const SHOP: Lexicon = Lexicon {
        synonym_share: 0.35,
        reformulate_share: 0.3,
        misspell_share: 0.06,
        alt_title_share: 0.2,
    };

    pub fn is_off(&self) -> bool {
        *self == Lexicon::OFF
    }
}

impl Default for Lexicon {
    fn default() -> Self {
        Lexicon::OFF
    }
}

/// Other words for each leaf category of [`words::leaves`], in its order: (English, Chinese).
const OTHER_WORDS: [(&[&str], &[&str]); 32] = [
    (&["frock"], &["连身裙"]),
    (&[], &["半裙"]),
    (&[], &["衬衣"]),
    (&["overcoat"], &["大衣"]),
    (&[], &["夹克衫"]),
    (&[], &["西服"]),
    (&["tee"], &["T恤衫"]),
    (&["denims"], &["丹宁裤"]),
    (&["trainers"], &["球鞋"]),
    (&["oxfords"], &[]),
    (&[], &[]),
    (&[], &[]),
    (&["mobile", "cellphone"], &["移动电话"]),
    (&["earphones", "headset"], &["耳麦"]),
    (&["notebook"], &["笔记本"]),
    (&[], &["平板电脑"]),
    (&["couch"], &[]),
    (&[], &["桌灯"]),
    (&[], &["被单"]),
    (&[], &["储物盒"]),
    (&[], &["唇膏"]),
    (&["moisturizer"], &["乳霜"]),
    (&["fragrance"], &["香氛"]),
    (&["sunblock"], &["防晒乳"]),
    (&["exercise mat"], &["健身垫"]),
    (&["running machine"], &[]),
    (&[], &[]),
    (&[], &[]),
    (&[], &[]),
    (&[], &["朱古力"]),
    (&[], &[]),
    (&[], &["干果"]),
];

/// The true synonym groups: for each leaf category, its English and Chinese names and the other words users
/// type for it. Every pair of words in a group is a pair of synonyms; words of different groups never are.
pub fn synonym_groups() -> Vec<Vec<&'static str>> {
    words::leaves()
        .iter()
        .zip(OTHER_WORDS)
        .map(|((_, (zh, en)), (other_en, other_zh))| {
            let mut group = vec![*en];
            group.extend_from_slice(other_en);
            group.push(zh);
            group.extend_from_slice(other_zh);
            group
        })
        .collect()
}

/// Common characters read alike (the same pinyin without tones), for the characters of the generated queries:
/// what an input method offers next to the right one.
const HOMOPHONES: &[(char, &[char])] = &[
    ('连', &['莲', '联']),
    ('衣', &['医', '依']),
    ('裙', &['群']),
    ('半', &['伴', '办']),
    ('身', &['深', '申']),
    ('衫', &['山', '删']),
    ('外', &['歪']),
    ('套', &['涛', '桃']),
    ('夹', &['家', '佳']),
    ('克', &['客', '刻']),
    ('西', &['希', '吸']),
    ('装', &['庄', '壮']),
    ('牛', &['扭', '纽']),
    ('裤', &['酷', '库']),
    ('运', &['云', '允']),
    ('动', &['冬', '东']),
    ('鞋', &['谐', '协']),
    ('皮', &['批', '披']),
    ('靴', &['雪', '学']),
    ('凉', &['良', '粮']),
    ('手', &['首', '守']),
    ('机', &['鸡', '基']),
    ('耳', &['尔', '饵']),
    ('笔', &['比', '必']),
    ('记', &['计', '纪']),
    ('电', &['店', '点']),
    ('脑', &['恼', '闹']),
    ('平', &['评', '瓶']),
    ('板', &['版', '扳']),
    ('沙', &['纱', '砂']),
    ('台', &['抬', '苔']),
    ('灯', &['登', '蹬']),
    ('床', &['窗', '创']),
    ('盒', &['合', '禾']),
    ('口', &['扣', '寇']),
    ('红', &['洪', '宏']),
    ('面', &['棉', '免']),
    ('霜', &['双', '爽']),
    ('香', &['箱', '乡']),
    ('水', &['睡', '税']),
    ('防', &['房', '方']),
    ('晒', &['筛']),
    ('瑜', &['鱼', '于']),
    ('垫', &['殿', '店']),
    ('跑', &['泡', '袍']),
    ('步', &['布', '部']),
    ('哑', &['压', '鸭']),
    ('铃', &['零', '灵']),
    ('篮', &['蓝', '兰']),
    ('球', &['求', '秋']),
    ('啡', &['非', '飞']),
    ('巧', &['桥', '乔']),
    ('力', &['立', '丽']),
    ('茶', &['查', '察']),
    ('叶', &['夜', '页']),
    ('坚', &['间', '尖']),
    ('果', &['过', '国']),
    ('纯', &['春', '唇']),
    ('棉', &['免', '绵']),
    ('夏', &['下', '吓']),
    ('季', &['计', '既']),
    ('码', &['马', '玛']),
    ('轻', &['青', '清']),
];

/// How a misspelling was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MisspellingKind {
    /// A letter replaced by a neighbour on a QWERTY keyboard.
    AdjacentKey,
    Dropped,
    Doubled,
    /// Two neighbouring letters swapped.
    Transposed,
    /// A Chinese character replaced by one read alike.
    Homophone,
    /// A Chinese query typed as its pinyin.
    Pinyin,
}

impl MisspellingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MisspellingKind::AdjacentKey => "adjacent_key",
            MisspellingKind::Dropped => "dropped",
            MisspellingKind::Doubled => "doubled",
            MisspellingKind::Transposed => "transposed",
            MisspellingKind::Homophone => "homophone",
            MisspellingKind::Pinyin => "pinyin",
        }
    }
}

/// A misspelled search and the query its user meant, which they searched next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Misspelling {
    pub user: String,
    /// `rn` of the misspelled search.
    pub typo_rn: String,
    pub typo: String,
    /// `rn` of the search of what the user meant.
    pub corrected_rn: String,
    pub intended: String,
    pub kind: MisspellingKind,
}

/// A search typed with another word of a synonym group than the catalogue's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynonymUse {
    pub user: String,
    /// `rn` of the search typed with the other word.
    pub rn: String,
    pub typed: String,
    /// The query with the catalogue's word.
    pub meant: String,
    /// The user abandoned it (no click) and searched `meant` next.
    pub reformulated: bool,
}

/// What the vocabulary habits did, as they did it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexiconTruth {
    Synonym(SynonymUse),
    Misspelling(Misspelling),
}

/// A search the user makes before the session's search, finds little with and abandons.
pub(crate) struct Abandoned {
    pub text: String,
    /// Time until the session's search.
    pub delay_ms: i64,
    /// A misspelling (with its kind), or `None` for a synonym retyped with the catalogue's word.
    pub misspelling: Option<MisspellingKind>,
}

/// How the habits change one session.
#[derive(Default)]
pub(crate) struct Session {
    pub abandoned: Option<Abandoned>,
    /// What the session's search is typed as, when not the query's own text.
    pub typed: Option<String>,
}

/// The habits' random stream while a world is generated.
pub(crate) struct LexiconState {
    lexicon: Lexicon,
    rng: SmallRng,
}

impl LexiconState {
    pub(crate) fn new(lexicon: Lexicon, seed: u64) -> LexiconState {
        LexiconState {
            lexicon,
            rng: SmallRng::seed_from_u64(seed ^ 0x006c_6578_6963_6f6e),
        }
    }

    /// A word of a leaf's group other than the catalogue's, in one language, if it has any.
    fn other_word(&mut self, leaf: usize, english: bool) -> Option<&'static str> {
        let (en, zh) = OTHER_WORDS.get(leaf)?;
        let words = if english { *en } else { *zh };
        (!words.is_empty()).then(|| words[self.rng.random_range(0..words.len())])
    }

    /// An item title with the words of its group as the habits have them (`title` is
    /// `brand adjective 中文 english`).
    pub(crate) fn title(&mut self, leaf: usize, brand: &str, adjective: &str) -> String {
        let (zh, en) = words::leaves()[leaf].1;
        let share = self.lexicon.alt_title_share;
        let zh = match self.rng.random::<f64>() < share {
            true => self.other_word(leaf, false).unwrap_or(zh),
            false => zh,
        };
        let en = match self.rng.random::<f64>() < share {
            true => self.other_word(leaf, true).unwrap_or(en),
            false => en,
        };
        format!("{brand} {adjective} {zh} {en}")
    }

    /// What a session for `text` (a query of leaf `leaf`) looks like.
    pub(crate) fn session(&mut self, leaf: usize, text: &str) -> Session {
        let mut session = Session::default();
        let l = self.lexicon;
        if l.misspell_share > 0.0
            && self.rng.random::<f64>() < l.misspell_share
            && let Some((typo, kind)) = misspell(text, &mut self.rng)
        {
            session.abandoned = Some(Abandoned {
                text: typo,
                delay_ms: self.rng.random_range(10_000..120_000),
                misspelling: Some(kind),
            });
            return session;
        }
        if l.synonym_share > 0.0 && self.rng.random::<f64>() < l.synonym_share {
            let (zh, en) = words::leaves()[leaf].1;
            let (word, english) = if text.contains(zh) {
                (zh, false)
            } else {
                (en, true)
            };
            if !text.contains(word) {
                return session;
            }
            let Some(other) = self.other_word(leaf, english) else {
                return session;
            };
            let typed = text.replacen(word, other, 1);
            if self.rng.random::<f64>() < l.reformulate_share {
                session.abandoned = Some(Abandoned {
                    text: typed,
                    delay_ms: self.rng.random_range(10_000..90_000),
                    misspelling: None,
                });
            } else {
                session.typed = Some(typed);
            }
        }
        session
    }
}

/// Keys next to each other on a QWERTY keyboard, by row.
const ROWS: [&str; 3] = ["qwertyuiop", "asdfghjkl", "zxcvbnm"];

/// A key next to `c` on its row.
pub fn keyboard_neighbour(c: char, rng: &mut SmallRng) -> Option<char> {
    ROWS.iter().find_map(|row| {
        let chars: Vec<char> = row.chars().collect();
        let at = chars.iter().position(|&k| k == c)?;
        let left = at.checked_sub(1).map(|i| chars[i]);
        let right = chars.get(at + 1).copied();
        match (left, right) {
            (Some(l), Some(r)) => Some(if rng.random::<bool>() { l } else { r }),
            (l, r) => l.or(r),
        }
    })
}

/// One typo in a Latin-script text of 5+ characters, never in its first letter nor in a number.
fn misspell_latin(text: &str, rng: &mut SmallRng) -> Option<(String, MisspellingKind)> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 5 {
        return None;
    }
    // Letters of words without digits, not a word's first.
    let mut letters = Vec::new();
    let mut word_start = 0;
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            word_start = i + 1;
            continue;
        }
        let word_end = chars[i..]
            .iter()
            .position(|&c| c == ' ')
            .map_or(chars.len(), |n| i + n);
        let numeric = chars[word_start..word_end].iter().any(char::is_ascii_digit);
        if i > word_start && c.is_ascii_lowercase() && !numeric && word_end - word_start >= 4 {
            letters.push(i);
        }
    }
    if letters.is_empty() {
        return None;
    }
    let at = letters[rng.random_range(0..letters.len())];
    let mut out = chars.clone();
    let kind = match rng.random_range(0..4) {
        0 => {
            out[at] = keyboard_neighbour(chars[at], rng)?;
            MisspellingKind::AdjacentKey
        }
        1 => {
            out.remove(at);
            MisspellingKind::Dropped
        }
        2 => {
            out.insert(at, chars[at]);
            MisspellingKind::Doubled
        }
        _ => {
            // With the next letter, or at a word's end with the previous one (never the word's first).
            let swappable = |i: usize, j: usize| {
                chars[j].is_ascii_lowercase() && chars[i] != chars[j] && letters.contains(&i)
            };
            if at + 1 < chars.len() && swappable(at, at + 1) {
                out.swap(at, at + 1);
                MisspellingKind::Transposed
            } else if swappable(at - 1, at) {
                out.swap(at - 1, at);
                MisspellingKind::Transposed
            } else {
                out.remove(at);
                MisspellingKind::Dropped
            }
        }
    };
    let out: String = out.into_iter().collect();
    (out != text).then_some((out, kind))
}

/// `text` with one character replaced by a homophone.
fn homophone(text: &str, rng: &mut SmallRng) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let replaceable: Vec<(usize, &[char])> = chars
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            HOMOPHONES
                .iter()
                .find(|(h, _)| h == c)
                .map(|(_, alike)| (i, *alike))
        })
        .collect();
    if replaceable.is_empty() {
        return None;
    }
    let (at, alike) = replaceable[rng.random_range(0..replaceable.len())];
    let mut out = chars;
    out[at] = alike[rng.random_range(0..alike.len())];
    Some(out.into_iter().collect())
}

/// `text` typed as pinyin: each Chinese character as its reading without tones, other words as they are.
pub fn typed_as_pinyin(text: &str) -> Option<String> {
    let mut out = String::new();
    for c in text.chars() {
        match c.to_pinyin() {
            Some(reading) => out.push_str(reading.plain()),
            None if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            None => return None,
        }
    }
    Some(out)
}

fn has_chinese(text: &str) -> bool {
    text.chars().any(|c| c.to_pinyin().is_some())
}

/// One misspelling of `text`: a Latin typo, or for Chinese a homophone (three times in five) or the pinyin.
pub fn misspell(text: &str, rng: &mut SmallRng) -> Option<(String, MisspellingKind)> {
    if !has_chinese(text) {
        return text.is_ascii().then(|| misspell_latin(text, rng)).flatten();
    }
    if rng.random::<f64>() < 0.6
        && let Some(typo) = homophone(text, rng)
    {
        return Some((typo, MisspellingKind::Homophone));
    }
    typed_as_pinyin(text)
        .filter(|typed| typed != text)
        .map(|typed| (typed, MisspellingKind::Pinyin))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GeneratorConfig, World};
    use std::collections::{HashMap, HashSet};

    #[test]
    fn every_leaf_has_a_group_and_no_word_is_in_two() {
        let groups = synonym_groups();
        assert_eq!(groups.len(), words::leaves().len());
        let mut seen = HashSet::new();
        for word in groups.iter().flatten() {
            assert!(seen.insert(*word), "{word} is in two groups");
        }
        assert!(groups.iter().filter(|g| g.len() > 2).count() >= 20);
    }

    #[test]
    fn homophones_read_as_the_character_they_replace() {
        for (c, alike) in HOMOPHONES {
            let reading = c.to_pinyin().unwrap().plain();
            for a in *alike {
                assert_eq!(a.to_pinyin().unwrap().plain(), reading, "{c} and {a}");
            }
        }
    }

    #[test]
    fn misspellings_of_each_kind() {
        let mut rng = SmallRng::seed_from_u64(5);
        let mut kinds = HashSet::new();
        for _ in 0..400 {
            let (typo, kind) = misspell("sneakers", &mut rng).unwrap();
            assert_ne!(typo, "sneakers");
            assert!(typo.starts_with('s'));
            kinds.insert(kind);
            let (typo, kind) = misspell("连衣裙", &mut rng).unwrap();
            kinds.insert(kind);
            match kind {
                MisspellingKind::Pinyin => assert_eq!(typo, "lianyiqun"),
                _ => assert_eq!(typo.chars().count(), 3),
            }
        }
        assert_eq!(kinds.len(), 6, "{kinds:?}");
        assert_eq!(misspell("abc", &mut rng), None);
        // Numbers are left alone.
        for _ in 0..50 {
            let (typo, _) = misspell("dress 1234", &mut rng).unwrap();
            assert!(typo.ends_with(" 1234"), "{typo}");
        }
        assert_eq!(
            typed_as_pinyin("red 运动鞋").as_deref(),
            Some("red yundongxie")
        );
    }

    fn config(lexicon: Lexicon) -> GeneratorConfig {
        GeneratorConfig {
            searches: 8_000,
            users: 400,
            items: 600,
            queries: 3_000,
            lexicon,
            ..GeneratorConfig::default()
        }
    }

    #[test]
    fn off_changes_nothing_and_on_changes_only_the_text_of_searches() {
        let collect = |lexicon: Lexicon| {
            let mut events = Vec::new();
            let mut truths = Vec::new();
            let world = World::new(config(lexicon));
            world.events_with_lexicon(&mut |e, _| events.push(e.clone()), &mut |t| truths.push(t));
            let titles: Vec<String> = world.items().iter().map(|i| i.title.clone()).collect();
            (events, truths, titles)
        };
        let (plain, none, plain_titles) = collect(Lexicon::OFF);
        assert!(none.is_empty());
        let mut default_events = Vec::new();
        World::new(config(Lexicon::OFF)).events(&mut |e, _| default_events.push(e.clone()));
        assert_eq!(plain, default_events);

        let (shop, truths, shop_titles) = collect(Lexicon::SHOP);
        // The same clicks: the habits never change what a session is for.
        let clicks =
            |events: &[algocenter_domain::behaviour::BehaviourEvent]| -> Vec<(String, String)> {
                events
                    .iter()
                    .filter(|e| e.bhv_type == "click")
                    .map(|e| (e.rn.clone(), e.item_id.clone()))
                    .collect()
            };
        assert_eq!(clicks(&plain), clicks(&shop));
        let changed_titles = plain_titles
            .iter()
            .zip(&shop_titles)
            .filter(|(a, b)| a != b)
            .count();
        assert!(
            (40..200).contains(&changed_titles),
            "{changed_titles} titles"
        );

        let by_rn: HashMap<&str, &algocenter_domain::behaviour::BehaviourEvent> = shop
            .iter()
            .filter(|e| e.bhv_type == "search")
            .map(|e| (e.rn.as_str(), e))
            .collect();
        let clicked: HashSet<&str> = shop
            .iter()
            .filter(|e| e.bhv_type == "click")
            .map(|e| e.rn.as_str())
            .collect();
        let groups = synonym_groups();
        let (mut misspellings, mut synonyms, mut reformulated) = (0, 0, 0);
        for truth in &truths {
            match truth {
                LexiconTruth::Misspelling(m) => {
                    misspellings += 1;
                    let typo = by_rn[m.typo_rn.as_str()];
                    let meant = by_rn[m.corrected_rn.as_str()];
                    assert_eq!((&typo.raw_query, &meant.raw_query), (&m.typo, &m.intended));
                    assert_eq!(typo.user_id, meant.user_id);
                    // The shop's own retyped typo (8 s) may come between.
                    let gap = meant.bhv_time_ms - typo.bhv_time_ms;
                    assert!((10_000..128_001).contains(&gap), "{gap} ms");
                    assert!(!clicked.contains(m.typo_rn.as_str()));
                }
                LexiconTruth::Synonym(s) => {
                    synonyms += 1;
                    assert_eq!(by_rn[s.rn.as_str()].raw_query, s.typed);
                    assert_ne!(s.typed, s.meant);
                    assert!(groups.iter().any(|g| g.iter().any(|w| s.typed.contains(w))
                        && g.iter().any(|w| s.meant.contains(w))));
                    if s.reformulated {
                        reformulated += 1;
                        assert!(!clicked.contains(s.rn.as_str()));
                    }
                }
            }
        }
        assert!((300..700).contains(&misspellings), "{misspellings}");
        assert!(synonyms > 500, "{synonyms}");
        let share = f64::from(reformulated) / f64::from(synonyms);
        assert!((0.2..0.4).contains(&share), "{share}");
    }
}
