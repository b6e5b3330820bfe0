package io.faultline.impact;

import java.time.Duration;
import java.time.Instant;

/** A model group's error budget at an instant: what the impact assessor prices an episode's failed responses by. */
public interface ErrorBudgets {

    /**
     * The SLO's availability target and period; the budget in failed responses the period allows
     * ({@code (1 − target) × requests in the period}) and the share of it still left (negative when overspent); with a
     * latency SLO its target and quantile and the slow requests it allows ({@code (1 − quantile) × answered requests
     * in the period}), else nulls and 0. {@code coverage}: the share of the period whose requests were counted (below
     * 1 when the period reaches past the minutes kept; the budgets are then those of the counted share's traffic
     * over the whole period, and 0 when none was kept).
     */
    record Budget(double availabilityTarget, Duration period, double budgetRequests, double remainingRatio,
            Double latencyTargetMs, Double latencyQuantile, double latencyBudgetRequests, double coverage) {
    }

    Budget budget(String modelGroup, Instant at);
}
