package io.faultline.testing;

import io.faultline.correlate.FailureCorrelationEngine;
import io.quarkus.arc.Arc;

/**
 * Correlation runs off the ingest path (a drain job, off in the test profile): a Quarkus test that expects an
 * ingest's episodes correlated drains the queue itself, at the TestClock's time, before it looks.
 */
public final class Correlations {

    private Correlations() {
    }

    /** Correlates every queued episode that is due; returns how many were correlated. */
    public static int drain() {
        return Arc.container().instance(FailureCorrelationEngine.class).get().drain();
    }
}
