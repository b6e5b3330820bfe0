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

    static double decimal(LocalStack stack, String sql) {
        try (Connection c = DriverManager.getConnection(stack.settings().jdbcUrl(), stack.settings().dbUser(),
                stack.settings().dbPassword()); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getDouble(1);
        } catch (Exception e) {
            throw new IllegalStateException("query failed: " + sql, e);
        }
    }

    /** The first column of every row, as numbers. */
    static java.util.List<Double> doubles(LocalStack stack, String sql) {
        java.util.List<Double> out = new java.util.ArrayList<>();
        try (Connection c = DriverManager.getConnection(stack.settings().jdbcUrl(), stack.settings().dbUser(),
                stack.settings().dbPassword()); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getDouble(1));
            }
            return out;
        } catch (Exception e) {
            throw new IllegalStateException("query failed: " + sql, e);
        }
    }

    /** Rows of (text, number), keyed by the first column. */
    static java.util.Map<String, Double> pairs(LocalStack stack, String sql) {
        java.util.Map<String, Double> out = new java.util.LinkedHashMap<>();
        try (Connection c = DriverManager.getConnection(stack.settings().jdbcUrl(), stack.settings().dbUser(),
                stack.settings().dbPassword()); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                out.put(rs.getString(1), rs.getDouble(2));
            }
            return out;
        } catch (Exception e) {
            throw new IllegalStateException("query failed: " + sql, e);
        }
    }

    /** Every row of every table (partitions included) as text: to prove what is, and is not, stored. */
    static String dump(LocalStack stack) {
        StringBuilder out = new StringBuilder();
        try (Connection c = DriverManager.getConnection(stack.settings().jdbcUrl(), stack.settings().dbUser(),
                stack.settings().dbPassword()); Statement st = c.createStatement()) {
            java.util.List<String> tables = new java.util.ArrayList<>();
            try (ResultSet rs = st.executeQuery("select quote_ident(table_schema) || '.' || quote_ident(table_name)"
                    + " from information_schema.tables where table_type = 'BASE TABLE'"
                    + " and table_schema not in ('pg_catalog', 'information_schema')")) {
                while (rs.next()) {
                    tables.add(rs.getString(1));
                }
            }
            for (String table : tables) {
                try (ResultSet rs = st.executeQuery("select t::text from " + table + " t")) {
                    while (rs.next()) {
                        out.append(table).append(": ").append(rs.getString(1)).append('\n');
                    }
                }
            }
            return out.toString();
        } catch (Exception e) {
            throw new IllegalStateException("dump failed", e);
        }
    }
}
