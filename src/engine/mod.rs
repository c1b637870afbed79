//! The execution engine: a ready-set scheduler over the plan.
