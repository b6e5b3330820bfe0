package io.faultline.cost;

import io.agroal.api.AgroalDataSource;
import io.faultline.episode.EpisodeFolder;
import io.faultline.episode.FailureInbox;
import io.faultline.taxonomy.CostFailure;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.ImpactScope;
import io.faultline.taxonomy.Severity;
import io.quarkus.logging.Log;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Raises a cost failure once per threshold: the row that marks the threshold as fired and the failure (into the
 * inbox) commit together, so a crash can neither lose the failure nor let a rebuild raise it twice. Unlike
 * {@link io.faultline.episode.FailureSink} it needs that one transaction, hence the inbox used directly.
 */
@ApplicationScoped
public class CostAlerts {

    /** Provider of budget failures; their deployment is {@code scope:id}, e.g. {@code team:search}. */
    public static final String BUDGET_PROVIDER = "budget";
    /** Provider of batch failures; their deployment is the batch id. */
    public static final String BATCH_PROVIDER = "batch";

    private final AgroalDataSource dataSource;
    private final CostStore store;
    private final FailureInbox inbox;
    private final EpisodeFolder folder;

    public CostAlerts(AgroalDataSource dataSource, CostStore store, FailureInbox inbox, EpisodeFolder folder) {
        this.dataSource = dataSource;
        this.store = store;
        this.inbox = inbox;
        this.folder = folder;
    }

    /** Returns false when the threshold had already fired (here, before a restart, or on another replica). */
    public boolean budgetExceeded(BudgetTracker.Budget budget, Instant periodStart, double threshold,
            Severity severity, CostStore.Crossing crossing) {
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("scope", budget.scope().code());
        evidence.put("scope_id", budget.id());
        evidence.put("period", budget.period().code());
        evidence.put("period_start", periodStart.toString());
        evidence.put("spent_usd", round(crossing.spentUsd()));
        evidence.put("budget_usd", budget.amountUsd());
        evidence.put("fraction", round(crossing.spentUsd() / budget.amountUsd()));
        evidence.put("threshold", threshold);
        evidence.put("calls", crossing.calls());
        evidence.put("budget_source", budget.source());
        Failure failure = failure(CostFailure.Type.BUDGET_EXCEEDED, severity, BUDGET_PROVIDER,
                budget.scope().code() + ":" + budget.id(), "cost.budget_threshold", evidence, crossing);
        return raise(failure, c -> store.recordBudgetAlert(c, budget.scope(), budget.id(), budget.period(),
                periodStart, budget.amountUsd(), threshold, crossing, failure.failureId()));
    }

    public boolean batchOverrun(String batchId, double expected, String source, Instant runStart, double threshold,
            Severity severity, CostStore.Crossing crossing) {
        Map<String, Object> evidence = new LinkedHashMap<>();
        evidence.put("batch_id", batchId);
        evidence.put("expected_cost_usd", expected);
        evidence.put("expected_source", source);
        evidence.put("run_started_at", runStart.toString());
        evidence.put("spent_usd", round(crossing.spentUsd()));
        evidence.put("ratio", round(crossing.spentUsd() / expected));
        evidence.put("threshold", threshold);
        evidence.put("calls", crossing.calls());
        Failure failure = failure(CostFailure.Type.BATCH_COST_OVERRUN, severity, BATCH_PROVIDER, batchId,
                "cost.batch_overrun", evidence, crossing);
        return raise(failure, c -> store.recordBatchAlert(c, batchId, expected, threshold, runStart, crossing,
                failure.failureId()));
    }

    private interface Record {
        boolean inserted(Connection c) throws SQLException;
    }

    private boolean raise(Failure failure, Record record) {
        boolean raised = QuarkusTransaction.requiringNew().call(() -> {
            try (Connection c = dataSource.getConnection()) {
                if (!record.inserted(c)) {
                    return false;
                }
                inbox.add(c, List.of(failure));
                return true;
            }
        });
        if (raised) {
            try {
                folder.fold(List.of(failure), List.of());
            } catch (RuntimeException e) {
                // The failure is durable in the inbox: the recovery job folds it.
                Log.warnf(e, "Fold of %s deferred to the inbox recovery", failure.type().code());
            }
        }
        return raised;
    }

    private static Failure failure(CostFailure.Type type, Severity severity, String provider, String deployment,
            String method, Map<String, Object> evidence, CostStore.Crossing crossing) {
        return Failure.of(type, UUID.randomUUID(), crossing.endedAt(), severity, provider, deployment, method,
                evidence, new ImpactScope(crossing.model(), crossing.modelGroup(), crossing.callId(),
                        crossing.userRef(), crossing.teamId()));
    }

    /**
     * Cents and below are noise in evidence; six decimals keep sub-cent calls visible. From 1e12 up a double holds
     * no sixth decimal anyway, and {@code Math.round} would cap the value at 9.2e12 (evidence that contradicted itself).
     */
    static double round(double value) {
        return Math.abs(value) >= 1e12 || !Double.isFinite(value) ? value : Math.round(value * 1e6) / 1e6;
    }
}
