package io.faultline.cost;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.Locale;

/** A budget period: a UTC calendar day or month. */
public enum Period {
    DAY, MONTH;

    public String code() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Period parse(String code) {
        return code == null ? null : switch (code.trim().toLowerCase(Locale.ROOT)) {
            case "day" -> DAY;
            case "month" -> MONTH;
            default -> null;
        };
    }

    /** Start of the period that contains {@code at}. */
    public Instant start(Instant at) {
        LocalDate day = at.atOffset(ZoneOffset.UTC).toLocalDate();
        LocalDate first = this == DAY ? day : day.withDayOfMonth(1);
        return first.atStartOfDay(ZoneOffset.UTC).toInstant();
    }

    /** End (exclusive) of the period that starts at {@code start}. */
    public Instant end(Instant start) {
        LocalDate first = start.atOffset(ZoneOffset.UTC).toLocalDate();
        return (this == DAY ? first.plusDays(1) : first.plusMonths(1)).atStartOfDay(ZoneOffset.UTC).toInstant();
    }
}
