package io.faultline.fuzz;

/**
 * One generated request. {@code endpoint} and {@code mutation} name what was sent and what was done to it, so that
 * failures group by cause; {@code body} is null for a request without one.
 */
record FuzzRequest(int index, String method, String path, String contentType, byte[] body, String endpoint,
        String mutation, boolean authorized) {

    int size() {
        return body == null ? 0 : body.length;
    }
}
