/** Which latency percentile a budget is held to; never the mean. */
export type Percentile = 'p50' | 'p90' | 'p99';
