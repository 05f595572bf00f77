"""The project's bottom layer: what every app may import and which imports no app (an import contract).

`errors` (the one DomainError and its codes), `hooks` (the one way apps hear of each other), `text` (what
text can be stored), `outbound` (the guard of every outbound call to a URL from outside), `client_ip`
(the caller's address), `inprocess` (the embedded default's background workers), `metrics` (the
`/metrics` registry), `redis` (the deployment's Redis, one server or through Sentinel, and its pools).
"""
