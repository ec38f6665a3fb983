//! The context shape's structure oracle (`common/context_structure.rs`): its gradient and its formula, checked
//! on a tiny hand-made problem. The oracle itself runs from the `ctr_training` bench.

#[path = "common/context_structure.rs"]
mod context_structure;
#[path = "common/ctr_world.rs"]
mod ctr_world;
