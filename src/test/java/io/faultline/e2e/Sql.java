package io.faultline.e2e;

import io.faultline.stack.LocalStack;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;

/** Reads the stack's database directly, to check what the API claims. */
final class Sql {

    private Sql() {
    }

    static String rows(LocalStack stack, String sql) {
        StringBuilder out = new StringBuilder();
        try (Connection c = DriverManager.getConnection(stack.settings().jdbcUrl(), stack.settings().dbUser(),
                stack.settings().dbPassword()); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                    out.append(i == 1 ? "\n  " : " | ").append(rs.getString(i));
                }
            }
            return out.toString();
        } catch (Exception e) {
            throw new IllegalStateException("query failed: " + sql, e);
        }
    }

    static long count(LocalStack stack, String sql) {
        try (Connection c = DriverManager.getConnection(stack.settings().jdbcUrl(), stack.settings().dbUser(),
                stack.settings().dbPassword()); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        } catch (Exception e) {
            throw new IllegalStateException("query failed: " + sql, e);
        }
    }
}
