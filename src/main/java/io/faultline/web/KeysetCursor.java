package io.faultline.web;

import io.faultline.common.StorableTime;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.UUID;

/**
 * The opaque {@code cursor} of the paged lists (episodes, correlation clusters, predictions, traffic actions): the
 * keyset position {@code (at, id)} of the last item of the previous page and the list that issued it, URL-safe
 * base64 (the SLOs list keeps its own position in the same form, through {@link #parts}). A cursor names its list
 * because each list orders by its own column: a failures cursor sent to the predictions list would otherwise be read
 * as a position in another order and skip or repeat rows silently.
 */
public record KeysetCursor(String list, Instant at, UUID id) {

    public String encode() {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString((list + "|" + at + "|" + id).getBytes(StandardCharsets.UTF_8));
    }

    /**
     * The position a cursor of {@code list} names, null for none; a cursor this list did not issue (another list's,
     * or none of this API's) is a 400 naming it.
     */
    public static KeysetCursor decode(String list, String cursor) {
        if (cursor == null || cursor.isBlank()) {
            return null;
        }
        String[] parts = parts(list, cursor, 3);
        try {
            Instant at = Instant.parse(parts[1]);
            if (!StorableTime.contains(at)) {
                throw notIssued();
            }
            return new KeysetCursor(list, at, Params.uuid("cursor", parts[2]));
        } catch (RuntimeException e) {
            throw notIssued();
        }
    }

    /**
     * The {@code count} '|'-separated parts of a non-blank cursor of {@code list} (the list's name first), for lists
     * whose position is not {@code (at, id)}; another list's cursor, or none of this API's, is a 400 naming it.
     */
    public static String[] parts(String list, String cursor, int count) {
        String[] parts;
        try {
            parts = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8).split("\\|", -1);
        } catch (IllegalArgumentException e) {
            throw notIssued();
        }
        if (parts.length >= 3 && !parts[0].equals(list) && isListName(parts[0])) {
            throw ApiProblem.badRequest("cursor", "cursor was issued by the " + parts[0] + " list, not the " + list
                    + " list; page each list with its own cursors, or start without one");
        }
        if (parts.length != count) {
            throw notIssued();
        }
        return parts;
    }

    /** A cursor's parts, the list's name first, as {@link #parts} reads them. */
    public static String encode(String... parts) {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString(String.join("|", parts).getBytes(StandardCharsets.UTF_8));
    }

    private static boolean isListName(String s) {
        return !s.isEmpty() && s.length() <= 32 && s.chars().allMatch(c -> c >= 'a' && c <= 'z' || c == '-');
    }

    public static ApiProblem notIssued() {
        return ApiProblem.badRequest("cursor", "cursor is not one this API issued; start without it");
    }
}
