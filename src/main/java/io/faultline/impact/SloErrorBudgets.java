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
        SloService.Budgets both = slos.budgets(modelGroup, at);
        SloService.Budget b = both.availability();
        SloService.LatencyBudget l = both.latency();
        // A period reaching past the kept minutes counted only part of its requests: the budget is that part's
        // traffic over the whole period, not the part's own (which made an old episode's share look larger).
        double scale = both.coverage() >= 1 ? 1 : both.coverage() > 0 ? 1 / both.coverage() : 0;
        return new Budget(b.slo().availabilityTarget(), b.slo().period(), b.budgetRequests() * scale,
                b.remainingRatio(), l == null ? null : l.targetMs(), l == null ? null : l.quantile(),
                l == null ? 0 : l.budgetRequests() * scale, both.coverage());
    }
}
