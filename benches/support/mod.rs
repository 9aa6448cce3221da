//! Paired, interleaved timing: criterion measures each side in its own block of time, so
//! drift of the machine between blocks (allocator state, frequency, the other core's load)
//! lands on one side only. This runs the two sides alternately, in pairs whose order flips,
//! and reports the median of the per-pair ratios.

use std::time::Instant;

/// Median time of `candidate` divided by `baseline`, over `pairs` interleaved pairs, with the
/// medians of each side in milliseconds.
pub fn paired_ratio(pairs: usize, mut candidate: impl FnMut(), mut baseline: impl FnMut()) -> (f64, f64, f64) {
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        start.elapsed().as_secs_f64()
    };
    let (mut ratios, mut candidates, mut baselines) = (Vec::new(), Vec::new(), Vec::new());
    for pair in 0..pairs {
        let (c, b) = if pair % 2 == 0 {
            let c = time(&mut candidate);
            (c, time(&mut baseline))
        } else {
            let b = time(&mut baseline);
            (time(&mut candidate), b)
        };
        ratios.push(c / b);
        candidates.push(c * 1e3);
        baselines.push(b * 1e3);
    }
    (median(&mut ratios), median(&mut candidates), median(&mut baselines))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
