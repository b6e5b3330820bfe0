package io.faultline.impact;

import jakarta.inject.Singleton;

import java.time.Instant;

/** The impact assessor's error budgets: the SLO service's budget of the model group (its per-minute rollups). */
@Singleton
public class SloErrorBudgets implements ErrorBudgets {

    private final SloService slos;

    public SloErrorBudgets(SloService slos) {
        this.slos = slos;
    }

    @Override
    public Budget budget(String modelGroup, Instant at) {
        SloService.Budget b = slos.budget(modelGroup, at);
        return new Budget(b.slo().availabilityTarget(), b.slo().period(), b.budgetRequests(), b.remainingRatio());
    }
}
