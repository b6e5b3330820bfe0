package io.faultline.simulator;

import java.util.Base64;
import java.util.concurrent.ThreadLocalRandom;

/** Random identifiers shaped like the providers' ids. */
final class Ids {

    private static final String BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    private static final String HEX = "0123456789abcdef";

    private Ids() {
    }

    static String base62(int length) {
        return pick(BASE62, length);
    }

    static String hex(int length) {
        return pick(HEX, length);
    }

    static String base64(int bytes) {
        byte[] raw = new byte[bytes];
        ThreadLocalRandom.current().nextBytes(raw);
        return Base64.getEncoder().encodeToString(raw);
    }

    private static String pick(String alphabet, int length) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        StringBuilder id = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            id.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return id.toString();
    }
}
