package io.faultline.impact;

import java.time.Duration;
import java.time.Instant;

/** A model group's error budget at an instant: what the impact assessor prices an episode's failed responses by. */
public interface ErrorBudgets {

    /**
     * The SLO's availability target and period; the budget in failed responses the period allows
     * ({@code (1 − target) × requests in the period}) and the share of it still left (negative when overspent).
     */
    record Budget(double availabilityTarget, Duration period, double budgetRequests, double remainingRatio) {
    }

    Budget budget(String modelGroup, Instant at);
}
