"""vmtemp: throwaway dev containers with chosen host folders mounted."""

__version__ = "0.1.0"
