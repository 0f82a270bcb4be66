"""Providers: one module per ``service`` tag, each exposing ``from_binding(name, binding, env)``."""
