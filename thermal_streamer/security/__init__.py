"""Who may watch: logins and sessions, the password file, allowed hosts, TLS."""
