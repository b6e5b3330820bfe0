package io.faultline.cost;

import io.faultline.call.LlmCall;
import io.faultline.call.StoredCallsWriter;
import io.faultline.taxonomy.Failure;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Status;
import jakarta.transaction.Synchronization;
import jakarta.transaction.TransactionSynchronizationRegistry;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Adds the cost of stored calls to the cluster-wide spend of the budgets they fall under ({@code budget_spend}), in the
 * transaction that stores them: one statement per ingest, summed per budget and period first, so a busy team's row is
 * taken once per request, not once per call; scopes without a budget are not written, and an ingest of none runs no
 * statement here (the replica's budgets say which have one, reloaded when any replica changed them). The keys written
 * tell the {@link BudgetTracker} of budgets set through another replica that it does not track yet.
 */
@ApplicationScoped
public class BudgetSpendWriter implements StoredCallsWriter {

    private final CostStore store;
    private final BudgetTracker budgets;
    /** Tells when the ingest's transaction ended; null for a caller that commits its connection itself. */
    private final TransactionSynchronizationRegistry transactions;

    @Inject
    public BudgetSpendWriter(CostStore store, BudgetTracker budgets, TransactionSynchronizationRegistry transactions) {
        this.store = store;
        this.budgets = budgets;
        this.transactions = transactions;
    }

    /** A writer for calls stored on a connection outside a transaction of the transaction manager. */
    public BudgetSpendWriter(CostStore store, BudgetTracker budgets) {
        this(store, budgets, null);
    }

    @Override
    public void write(Connection connection, List<LlmCall> inserted, List<Failure> raised, List<Runnable> undo)
            throws SQLException {
        // A key written has a budget: one another replica stored since this one's last reconcile is loaded at the
        // ingest's own judging. Noting one for a transaction that rolls back only loads a stored budget early.
        Map<CostStore.SpendKey, CostStore.Sum> deltas = budgets.toWrite(connection, deltas(inserted), this::atEnd);
        if (!deltas.isEmpty()) {
            budgets.written(store.addBudgetSpend(connection, deltas, budgets::isConfigured));
        }
    }

    /** Runs {@code ended} once the ingest's transaction committed or rolled back (at once outside one). */
    private void atEnd(Runnable ended) {
        if (transactions == null || transactions.getTransactionStatus() != Status.STATUS_ACTIVE) {
            ended.run();
            return;
        }
        transactions.registerInterposedSynchronization(new Synchronization() {
            @Override
            public void beforeCompletion() {
            }

            @Override
            public void afterCompletion(int status) {
                ended.run();
            }
        });
    }

    /** The spend of {@code calls} per scope, id and period they ended in (day and month alike). */
    static Map<CostStore.SpendKey, CostStore.Sum> deltas(List<LlmCall> calls) {
        Map<CostStore.SpendKey, CostStore.Sum> deltas = new HashMap<>();
        for (LlmCall call : calls) {
            for (BudgetScope scope : BudgetScope.values()) {
                String id = scope.keyOf(call);
                if (id == null) {
                    continue;
                }
                for (Period period : Period.values()) {
                    deltas.merge(new CostStore.SpendKey(scope, id, period, period.start(call.endedAt())),
                            new CostStore.Sum(call.costUsd(), 1),
                            (a, b) -> new CostStore.Sum(a.spentUsd() + b.spentUsd(), a.calls() + b.calls()));
                }
            }
        }
        return deltas;
    }
}
