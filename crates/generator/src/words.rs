//! Vocabulary of the generated world: a bilingual category tree, brands and modifiers.

/// Top-level categories.
pub const TOPS: [&str; 8] = [
    "女装", "男装", "鞋靴", "数码", "家居", "美妆", "运动", "食品",
];

/// Leaf categories: (index into [`TOPS`], (Chinese name, English name)).
const LEAVES: [(usize, (&str, &str)); 32] = [
    (0, ("连衣裙", "dress")),
    (0, ("半身裙", "skirt")),
    (0, ("衬衫", "blouse")),
    (0, ("外套", "coat")),
    (1, ("夹克", "jacket")),
    (1, ("西装", "suit")),
    (1, ("T恤", "t-shirt")),
    (1, ("牛仔裤", "jeans")),
    (2, ("运动鞋", "sneakers")),
    (2, ("皮鞋", "leather shoes")),
    (2, ("靴子", "boots")),
    (2, ("凉鞋", "sandals")),
    (3, ("手机", "phone")),
    (3, ("耳机", "headphones")),
    (3, ("笔记本电脑", "laptop")),
    (3, ("平板", "tablet")),
    (4, ("沙发", "sofa")),
    (4, ("台灯", "lamp")),
    (4, ("床单", "bed sheet")),
    (4, ("收纳盒", "storage box")),
    (5, ("口红", "lipstick")),
    (5, ("面霜", "face cream")),
    (5, ("香水", "perfume")),
    (5, ("防晒霜", "sunscreen")),
    (6, ("瑜伽垫", "yoga mat")),
    (6, ("跑步机", "treadmill")),
    (6, ("哑铃", "dumbbell")),
    (6, ("篮球", "basketball")),
    (7, ("咖啡", "coffee")),
    (7, ("巧克力", "chocolate")),
    (7, ("茶叶", "tea")),
    (7, ("坚果", "nuts")),
];

pub fn leaves() -> &'static [(usize, (&'static str, &'static str))] {
    &LEAVES
}

pub const BRANDS: [&str; 12] = [
    "Acme",
    "Orion",
    "Nova",
    "Zephyr",
    "Lumen",
    "北极星",
    "优品",
    "Vertex",
    "Maple",
    "Aurora",
    "锦绣",
    "Kite",
];

pub const ADJECTIVES: [&str; 12] = [
    "红色", "black", "新款", "cheap", "纯棉", "premium", "夏季", "wireless", "大码", "vintage",
    "轻薄", "organic",
];
