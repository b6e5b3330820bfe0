package io.faultline.episode;

import io.faultline.web.KeysetCursor;
import io.faultline.taxonomy.Category;
import io.faultline.taxonomy.FailureType;
import io.faultline.taxonomy.Severity;
import io.faultline.web.ApiProblem;
import io.faultline.web.Params;
import io.quarkus.panache.common.Parameters;
import io.quarkus.panache.common.Sort;
import jakarta.enterprise.context.ApplicationScoped;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;

/** Filtered, cursor-paged reads of failure episodes, newest activity first. */
@ApplicationScoped
public class FailureQuery {

    /** The name its cursors carry, so that another list's cursor is refused. */
    private static final String CURSOR_LIST = "failures";

    /** One page; {@code nextCursor} is null on the last page. */
    public record Page(List<FailureView> items, String nextCursor) {
    }

    /** Parsed, validated filters; every value names its parameter when it is wrong. */
    public record Filter(Category category, FailureType type, String provider, String deployment, Severity severity,
            Instant since, Instant until) {

        public static Filter parse(String category, String type, String provider, String deployment, String severity,
                String since, String until) {
            Category cat = category == null ? null : parseEnum("category", category, () -> Category.parse(category),
                    "category is one of " + names(Category.values()));
            FailureType t = type == null ? null : parseEnum("type", type,
                    () -> FailureType.byCode(type.toLowerCase(Locale.ROOT)), typesOf(cat));
            if (cat != null && t != null && t.category() != cat) {
                throw ApiProblem.badRequest("type", "type '" + type + "' is not in category " + cat);
            }
            Severity sev = severity == null ? null
                    : parseEnum("severity", severity, () -> Severity.valueOf(severity.toUpperCase(Locale.ROOT)),
                            "severity is one of " + names(Severity.values()));
            Instant from = Params.instant("since", since);
            Instant to = Params.instant("until", until);
            if (from != null && to != null && from.isAfter(to)) {
                throw ApiProblem.badRequest("since", "since must not be after until");
            }
            return new Filter(cat, t, provider == null ? null : provider.toLowerCase(Locale.ROOT), deployment, sev, from, to);
        }

        /** Parses a filter value; an unknown one is a 400 naming the values the filter takes ({@code takes}). */
        private static <T> T parseEnum(String field, String value, java.util.function.Supplier<T> parse,
                String takes) {
            try {
                return parse.get();
            } catch (IllegalArgumentException e) {
                throw ApiProblem.badRequest(field, "unknown " + field + " '" + value + "'; " + takes);
            }
        }

        private static String names(Enum<?>[] values) {
            StringBuilder names = new StringBuilder();
            for (Enum<?> value : values) {
                names.append(names.length() == 0 ? "" : ", ").append(value.name());
            }
            return names.toString();
        }

        /** The failure types the type filter takes: every type, or the category's when one is given. */
        private static String typesOf(Category category) {
            StringBuilder codes = new StringBuilder();
            for (FailureType type : FailureType.all()) {
                if (category == null || type.category() == category) {
                    codes.append(codes.length() == 0 ? "" : ", ").append(type.code());
                }
            }
            return (category == null ? "type is one of " : "a " + category + " type is one of ") + codes;
        }
    }

    public Page list(Filter filter, String cursor, int limit) {
        StringBuilder where = new StringBuilder("1 = 1");
        Parameters params = new Parameters();
        if (filter.category() != null) {
            where.append(" and category = :category");
            params.and("category", filter.category().name());
        }
        if (filter.type() != null) {
            where.append(" and type = :type");
            params.and("type", filter.type().code());
        }
        if (filter.provider() != null) {
            where.append(" and provider = :provider");
            params.and("provider", filter.provider());
        }
        if (filter.deployment() != null) {
            where.append(" and deployment = :deployment");
            params.and("deployment", filter.deployment());
        }
        if (filter.severity() != null) {
            where.append(" and severity = :severity");
            params.and("severity", filter.severity().name());
        }
        if (filter.since() != null) {
            where.append(" and lastSeen >= :since");
            params.and("since", filter.since());
        }
        if (filter.until() != null) {
            where.append(" and firstSeen <= :until");
            params.and("until", filter.until());
        }
        KeysetCursor after = KeysetCursor.decode(CURSOR_LIST, cursor);
        if (after != null) {
            where.append(" and (lastSeen < :cLast or (lastSeen = :cLast and failureId < :cId))");
            params.and("cLast", after.at()).and("cId", after.id());
        }
        List<FailureEvent> rows = FailureEvent.<FailureEvent>find(where.toString(),
                Sort.descending("lastSeen", "failureId"), params).page(0, limit + 1).list();
        List<FailureView> items = new ArrayList<>(Math.min(rows.size(), limit));
        for (int i = 0; i < Math.min(rows.size(), limit); i++) {
            items.add(FailureView.of(rows.get(i)));
        }
        FailureEvent last = rows.size() > limit ? rows.get(limit - 1) : null;
        String next = last == null ? null : new KeysetCursor(CURSOR_LIST, last.lastSeen, last.failureId).encode();
        return new Page(items, next);
    }

    public Optional<FailureView> byId(UUID id) {
        return FailureEvent.<FailureEvent>findByIdOptional(id).map(FailureView::of);
    }

    /**
     * The problem a read of an episode that a merge absorbed answers (a late failure bridged it with an older one): a
     * permanent redirect (308) to the episode that absorbed it, naming it in {@code mergedInto}, as a merged
     * correlation cluster's address does; a 404 naming it when retention has since dropped that one too; else the
     * plain 404 of an unknown episode.
     */
    @jakarta.transaction.Transactional
    public ApiProblem gone(UUID id) {
        @SuppressWarnings("unchecked")
        List<Object[]> rows = FailureEvent.getEntityManager().createNativeQuery("select m.merged_into,"
                + " m.merged_at, exists (select 1 from failure_events e where e.failure_id = m.merged_into)"
                + " from failure_merges m where m.failure_id = ?1").setParameter(1, id).getResultList();
        if (rows.isEmpty()) {
            return new ApiProblem(404, "Not found", "No failure " + id);
        }
        UUID into = (UUID) rows.get(0)[0];
        Object time = rows.get(0)[1];
        String at = (time instanceof java.sql.Timestamp t ? t.toInstant()
                : time instanceof java.time.OffsetDateTime o ? o.toInstant() : (Instant) time).toString();
        boolean kept = (Boolean) rows.get(0)[2];
        java.util.Map<String, Object> where = java.util.Map.of("mergedInto", into.toString(), "mergedAt", at);
        String detail = "Failure " + id + " was merged into " + into + " at " + at
                + (kept ? "" : ", which retention has deleted since");
        return kept ? ApiProblem.moved(308, "Merged", detail, "/api/v1/failures/" + into, where)
                : ApiProblem.moved(404, "Merged", detail, null, where);
    }
}
