"""The embedded lab: an Okta-compatible IdP and a strict STS over moto, on loopback.

ENGINEERS WORKING HERE NOW: read /work/main/TEAM_NOTES.md first (ground rules
and the lab's internal contracts: TlsFiles, Directory, IdpServer, Lab, LabInfo).
"""
