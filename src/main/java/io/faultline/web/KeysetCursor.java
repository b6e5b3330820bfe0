package io.faultline.web;

import io.faultline.common.StorableTime;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.UUID;

/**
 * The opaque {@code cursor} of the paged lists (episodes, correlation clusters): the keyset position
 * {@code (lastSeen, id)} of the last item of the previous page, URL-safe base64.
 */
public record KeysetCursor(Instant lastSeen, UUID id) {

    public String encode() {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString((lastSeen + "|" + id).getBytes(StandardCharsets.UTF_8));
    }

    /** The position a cursor names, null for none; a cursor this API did not issue is a 400 naming it. */
    public static KeysetCursor decode(String cursor) {
        if (cursor == null || cursor.isBlank()) {
            return null;
        }
        try {
            String[] parts = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8).split("\\|");
            Instant at = Instant.parse(parts[0]);
            if (!StorableTime.contains(at)) {
                throw new IllegalArgumentException("outside the stored range");
            }
            return new KeysetCursor(at, UUID.fromString(parts[1]));
        } catch (RuntimeException e) {
            throw ApiProblem.badRequest("cursor", "cursor is not one this API issued; start without it");
        }
    }
}
