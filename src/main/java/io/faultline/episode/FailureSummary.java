package io.faultline.episode;

import java.time.Instant;
import java.util.List;

/** Counts per category, type and severity: what `make run` prints and what a dashboard table shows. */
public final class FailureSummary {

    private FailureSummary() {
    }

    public record Row(String category, String type, String severity, long episodes, long occurrences) {
    }

    static List<Row> since(Instant since) {
        List<Object[]> rows = FailureEvent.getEntityManager().createQuery("select e.category, e.type, e.severity,"
                + " count(e), sum(e.occurrences) from FailureEvent e where e.lastSeen >= :since"
                + " group by e.category, e.type, e.severity order by e.category, e.type, e.severity", Object[].class)
                .setParameter("since", since).getResultList();
        return rows.stream().map(r -> new Row((String) r[0], (String) r[1], (String) r[2], ((Number) r[3]).longValue(),
                ((Number) r[4]).longValue())).toList();
    }
}
