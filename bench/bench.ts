// `bun run bench`: load against the mock upstream, jellycli beside a bare pass-through.
// The measurement itself arrives with the performance issue; until then this says so plainly.
console.log("bench: not yet — the load benchmark (jellycli vs. a bare pass-through against the mock) comes with the performance issue.");
