//! `plan`: a runbook's schedule, its forecast from past runs (learned estimates) and the
//! Regions its steps need, ready for cli to render in the format asked.

use super::Failure;
use crate::history::{Estimates, Forecast, MIN_SAMPLES};
use crate::plan::{Plan, render};
use crate::runbook::Runbook;

pub use crate::plan::RtoCheck;
pub use crate::plan::regions::StepNeeds;

/// What `plan` is asked.
pub struct PlanRequest<'a> {
    pub file: &'a std::path::Path,
    pub vars: &'a [(String, String)],
    /// Steps at once when the makespan is scheduled (as `run --max-parallel`).
    pub max_parallel: usize,
    /// Where step estimates come from: declared, learned from past runs, or learned where
    /// there are enough samples.
    pub estimates: Estimates,
    /// `--lost-region`: the Regions a recovery cannot count on.
    pub lost_regions: &'a [String],
}

/// A runbook's plan, with what it forecasts and finds.
pub struct Planned {
    pub plan: Plan,
    /// The plan of the runbook with its name on one line, whatever it holds: the text's.
    text_plan: Plan,
    /// The runbook at its p50 estimates (learned where they are).
    pub runbook: Runbook,
    /// With learned estimates: the makespan at p50 and p90.
    pub forecast: Option<Forecast>,
    /// Per step, the Regions and global control planes it calls.
    pub needs: Vec<StepNeeds>,
    pub lost_regions: Vec<String>,
}

impl Planned {
    /// Required recovery steps that need a lost Region.
    pub fn findings(&self) -> usize {
        self.needs.iter().filter(|n| n.finding).count()
    }

    /// The makespan against the RTO: the learned p90 forecast's when there is one, else the
    /// declared estimates'.
    pub fn rto_check(&self) -> Option<RtoCheck> {
        match &self.forecast {
            Some(f) if f.learned() => f.rto,
            _ => self.plan.rto_check(),
        }
    }

    /// The plan as text, with the forecast and the Regions' table when asked for.
    pub fn text(&self) -> String {
        let name = crate::report::sanitize::one_line(&self.runbook.name).into_owned();
        let mut o = render::text(&self.text_plan, &self.runbook);
        if let Some(f) = &self.forecast {
            o.push_str(&f.text(&name));
        }
        if !self.lost_regions.is_empty() {
            o.push_str(&crate::plan::regions::text(&self.needs, &self.lost_regions));
        }
        o
    }

    /// The plan as JSON, with the forecast (`estimates`) and the Regions each step needs.
    pub fn json(&self) -> String {
        let text = render::json_with(
            &self.plan,
            &self.runbook,
            self.forecast.as_ref().map(Forecast::json),
        );
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(mut v) => {
                v["lost_regions"] = serde_json::json!(self.lost_regions);
                v["region_needs"] = serde_json::json!(self.needs);
                let mut s = serde_json::to_string_pretty(&v).unwrap_or(text);
                s.push('\n');
                s
            }
            Err(_) => text,
        }
    }

    pub fn dot(&self) -> String {
        render::dot(&self.plan, &self.runbook)
    }

    pub fn mermaid(&self) -> String {
        render::mermaid(&self.plan, &self.runbook)
    }
}

impl super::Session {
    /// Plans `req.file`: exit 2 when it does not load or its graph does not build; learned
    /// estimates come from the runs of the session's store.
    pub async fn plan(&self, req: PlanRequest<'_>) -> Result<Planned, Failure> {
        let shown = crate::report::sanitize::one_line(&req.file.display().to_string()).into_owned();
        let loaded = crate::runbook::load_file(req.file, req.vars).map_err(|diags| {
            let n = diags.len();
            Failure::in_input(
                diags,
                format!(
                    "{shown} is not a valid runbook ({n} problem{})",
                    if n == 1 { "" } else { "s" }
                ),
            )
        })?;
        let estimates = self.learned(req.estimates, &loaded.runbook).await?;
        let estimated = |p90: bool| match &estimates {
            Some(e) => crate::history::with_estimates(&loaded.runbook, e, p90),
            None => loaded.runbook.clone(),
        };
        let runbook = estimated(false);
        let plan = Plan::build(&runbook)
            .map_err(|e| Failure::invalid(format!("{shown}: {e}")))?
            .with_max_parallel(req.max_parallel);
        // The runbook's name heads the text: on one line, whatever it holds.
        let mut one_line = runbook.clone();
        one_line.name = crate::report::sanitize::one_line(&one_line.name).into_owned();
        let text_plan = Plan::build(&one_line)
            .map_err(|e| Failure::invalid(format!("{shown}: {e}")))?
            .with_max_parallel(req.max_parallel);
        // With learned estimates, the RTO is judged on the p90 forecast.
        let p90 = estimates.as_ref().and_then(|_| {
            Plan::build(&estimated(true))
                .ok()
                .map(|p| p.with_max_parallel(req.max_parallel))
        });
        let forecast = estimates.zip(p90).map(|(estimates, p90)| Forecast {
            estimates,
            p50: plan.makespan(),
            p90: p90.makespan(),
            rto: p90.rto_check(),
        });
        Ok(Planned {
            needs: crate::plan::regions::needs(&loaded.runbook, req.lost_regions),
            lost_regions: req.lost_regions.to_vec(),
            plan,
            text_plan,
            runbook,
            forecast,
        })
    }

    /// The steps' learned estimates (`None` with `Estimates::Declared`); exit 2 when `learned`
    /// is asked and a step has too few samples, exit 1 when past runs cannot be read.
    async fn learned(
        &self,
        asked: Estimates,
        runbook: &Runbook,
    ) -> Result<Option<Vec<crate::history::Estimate>>, Failure> {
        if asked == Estimates::Declared {
            return Ok(None);
        }
        let s = &self.settings;
        let history = super::store::digests(&s.state.url, &s.state.dir, &s.profile)
            .await
            .map_err(|e| {
                Failure::failed(format!("cannot read past runs for learned estimates: {e}"))
                    .help("pass --estimates declared to plan without them")
            })?;
        match crate::history::learn(runbook, &history, asked) {
            Ok(e) => Ok(Some(e)),
            Err(short) => Err(Failure::invalid(format!(
                "--estimates learned needs {MIN_SAMPLES} measured runs of every step; too few for: {}",
                short.join(", ")
            ))
            .help("execute the runbook more often, or use --estimates auto")),
        }
    }
}
