//! The validated DAG: start order, critical path, makespan, renderings.
