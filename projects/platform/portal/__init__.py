"""The Streamlit portal: ``streamlit run projects/platform/portal/Home.py``."""
